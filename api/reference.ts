import { Router } from 'express';
import { AppContext, route } from './context';

/** Districts, streets and service categories, readable by any signed-in client. */
export function referenceRouter(ctx: AppContext): Router {
  const router = Router();
  const em = () => ctx.orm.em.fork();

  router.get(
    '/districts',
    route(async (_req, res) => {
      const rows = await em().execute<Array<{ code: string; name: string; streets: number }>>(
        `select d.code, d.name, count(s.*)::int as streets from district d left join street s on s.district_code = d.code
         group by d.code, d.name order by d.code`,
      );
      res.json({ items: rows });
    }),
  );

  router.get(
    '/districts/:code/streets',
    route(async (req, res) => {
      const rows = await em().execute<Array<{ code: string; name: string }>>(
        `select code, name from street where district_code = ? order by code`,
        [String(req.params.code)],
      );
      res.json({ items: rows });
    }),
  );

  router.get(
    '/service-categories',
    route(async (_req, res) => {
      const rows = await em().execute(`select code, name_zh as "nameZh", name_en as "nameEn" from service_category order by code`);
      res.json({ items: rows });
    }),
  );

  return router;
}
