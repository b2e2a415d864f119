import { Router } from 'express';
import { AppContext, route } from './context';
import { ApiError, parseInput } from './problem';
import { districtParams } from './schemas';

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
      const { code } = parseInput(req, districtParams, req.params, 'params');
      const districts = await em().execute(`select code from district where code = ?`, [code]);
      if (districts.length === 0) throw new ApiError('NOT_FOUND', `district ${code} does not exist`);
      const rows = await em().execute<Array<{ code: string; name: string }>>(
        `select code, name from street where district_code = ? order by code`,
        [code],
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
