import type { CancelReason, OrderStatus } from '../../domain/order';
import { TERMINAL_STATUSES } from '../../domain/order';
import type { Policy } from '../../domain/policy';
import type { ServiceCategoryCode } from '../../domain/reference-data';
import { Deferred, sleep, sleepUntil } from './concurrency';
import { ApiClient, ApiRequestError, toRequestError } from './http';
import type { OrderPlan } from './plan';
import type { RegisteredPerson, TokenBook } from './setup';

/** The fields of GET /v1/orders/:id that the demo reads. */
export interface OrderView {
  id: string;
  status: OrderStatus;
  scheduledStart: string;
  cancelReason?: CancelReason;
  volunteerId?: string;
  signedInAt?: string;
  signedOutAt?: string;
  served?: { minutes: number; coins: string };
  settled?: { minutes: number; coins: string };
  rating?: number;
  disputed: boolean;
  flags: string[];
}

/** Refusals the demo provokes on purpose, counted over the run. */
export interface RefusalCounts {
  /** 409 VOLUNTEER_OVERLAP: a volunteer tried to accept an order overlapping one they hold. */
  overlap: number;
  /** 409 INSURANCE_NOT_CONFIRMED: a volunteer without insurance tried to accept. */
  insurance: number;
}

/** Services and counters shared by all order flows. */
export interface FlowEnvironment {
  api: ApiClient;
  tokens: TokenBook;
  policy: Policy;
  minuteMs: number;
  /** Distinguishes this run's Idempotency-Keys from earlier runs on the same data. */
  runId: string;
  /** Wall-clock start of the order phase; plan offsets count from here. */
  phaseStartMs: number;
  /** Resolved when a host order is matched, keyed by plan index, for the overlap orders that wait on it. */
  hostMatched: Map<number, Deferred<void>>;
  refusals: RefusalCounts;
}

const DESCRIPTIONS: Record<ServiceCategoryCode, string> = {
  emotional_comfort: '陪老人聊天、读报',
  assistance: '协助用智能手机预约挂号',
  outing_companionship: '陪同去社区公园散步',
  cultural_sports: '一起练习太极拳',
  health_education: '讲解冬季防流感常识',
  legal_aid: '讲解赡养与遗嘱的法律常识',
  training_lecture: '教老人使用视频通话',
  fraud_prevention: '讲解如何识别电信诈骗',
};

/**
 * Policy minutes after the sign-in window opens before signing in. The
 * workflow checks the window when it handles the request, which is never
 * before the request is sent, so an early send leaves the most time for
 * a slow response.
 */
const SIGN_IN_AFTER_OPEN_MINUTES = 10;
/** Policy minutes past the booked duration before signing out, so served time rounds to the booking. */
const SIGN_OUT_MARGIN_MINUTES = 5;
/** Real time a poll may overrun the expected moment of a timer before the wait fails. */
const MIN_WAIT_GRACE_MS = 30_000;
const WAIT_GRACE_MINUTES = 600;
const MIN_POLL_INTERVAL_MS = 250;
const POLL_INTERVAL_MINUTES = 5;

/**
 * Drives one planned order through the API. Every step names the order and
 * the step in its error, and every POST carries an Idempotency-Key unique to
 * the run, order and step, so a retried request cannot act twice.
 */
export class OrderDriver {
  private id: string | undefined;

  constructor(
    readonly env: FlowEnvironment,
    readonly plan: OrderPlan,
  ) {}

  get orderId(): string | undefined {
    return this.id;
  }

  /** Wall-clock instant of a plan offset in policy minutes. */
  atMinute(minute: number): number {
    return this.env.phaseStartMs + minute * this.env.minuteMs;
  }

  get startAtMs(): number {
    return this.atMinute(this.plan.startAtMinute);
  }

  minutesToMs(minutes: number): number {
    return minutes * this.env.minuteMs;
  }

  async create(): Promise<OrderView> {
    const { plan } = this;
    const token = await this.env.tokens.elder(plan.elder.id);
    const view = await this.run('request', () =>
      this.env.api.call<OrderView>('POST', '/v1/orders', {
        token,
        idempotencyKey: this.key('request'),
        body: {
          category: plan.category,
          description: DESCRIPTIONS[plan.category],
          scheduledStart: new Date(this.startAtMs).toISOString(),
          bookedMinutes: plan.bookedMinutes,
        },
      }),
    );
    this.id = view.id;
    return this.expectStatus('request', view, 'pending_review');
  }

  async approve(): Promise<OrderView> {
    const token = await this.env.tokens.reviewer(this.plan.elder.districtCode);
    return this.update('approve', token, 'review', { decision: 'approve', note: '符合服务条件' }, 'open');
  }

  async reject(): Promise<OrderView> {
    const token = await this.env.tokens.reviewer(this.plan.elder.districtCode);
    const note = '该需求属于家政服务，不在时间银行服务范围内';
    return this.update('reject', token, 'review', { decision: 'reject', note }, 'rejected');
  }

  /** Accepts as `volunteer`, then wakes the overlap orders waiting for this one. */
  async accept(volunteer: RegisteredPerson, step = 'accept'): Promise<OrderView> {
    const token = await this.env.tokens.volunteer(volunteer.id);
    const view = await this.update(step, token, 'accept', {}, 'matched');
    this.env.hostMatched.get(this.plan.index)?.resolve();
    return view;
  }

  /** Tries to accept as `volunteer` and requires the API to reject it with HTTP 409 and `code`. */
  async acceptRefused(volunteer: RegisteredPerson, code: 'VOLUNTEER_OVERLAP' | 'INSURANCE_NOT_CONFIRMED'): Promise<void> {
    const step = `accept-refused-${code.toLowerCase()}`;
    const token = await this.env.tokens.volunteer(volunteer.id);
    const path = `/v1/orders/${this.requireId()}/accept`;
    const response = await this.run(step, () =>
      this.env.api.send('POST', path, { token, body: {}, idempotencyKey: this.key(step) }),
    );
    const problem = response.body as { code?: string } | undefined;
    if (response.status !== 409 || problem?.code !== code) {
      const actual = toRequestError('POST', path, response);
      const got = `HTTP ${response.status}${actual.code ? ` ${actual.code}` : ''}${actual.detail ? `: ${actual.detail}` : ''}`;
      throw this.stepError(step, new Error(`expected HTTP 409 ${code}, got ${got}`));
    }
    if (code === 'VOLUNTEER_OVERLAP') this.env.refusals.overlap += 1;
    else this.env.refusals.insurance += 1;
  }

  async withdraw(volunteer: RegisteredPerson): Promise<OrderView> {
    const token = await this.env.tokens.volunteer(volunteer.id);
    return this.update('withdraw', token, 'withdraw', {}, 'open');
  }

  /** Waits until just after the sign-in window opens, then signs in as `volunteer`. */
  async signIn(volunteer: RegisteredPerson): Promise<OrderView> {
    const opensAtMinute = SIGN_IN_AFTER_OPEN_MINUTES - this.env.policy.signInOpensBeforeStartMinutes;
    await sleepUntil(this.startAtMs + this.minutesToMs(opensAtMinute));
    const token = await this.env.tokens.volunteer(volunteer.id);
    return this.update('sign-in', token, 'sign-in', {}, 'in_service');
  }

  /** Waits out the booked duration (plus a small margin), then signs out as `volunteer`. */
  async signOut(volunteer: RegisteredPerson): Promise<OrderView> {
    await sleep(this.minutesToMs(this.plan.bookedMinutes + SIGN_OUT_MARGIN_MINUTES));
    const token = await this.env.tokens.volunteer(volunteer.id);
    return this.update('sign-out', token, 'sign-out', {}, 'awaiting_rating');
  }

  async serve(volunteer: RegisteredPerson): Promise<OrderView> {
    await this.signIn(volunteer);
    return this.signOut(volunteer);
  }

  async rate(rating: number, expected: 'settled' | 'disputed' = 'settled'): Promise<OrderView> {
    const token = await this.env.tokens.elder(this.plan.elder.id);
    const body =
      expected === 'disputed'
        ? { rating, dispute: true, disputeNote: '实际服务时间比记录的短' }
        : { rating, comment: rating >= 4 ? '服务很周到' : '服务还可以' };
    return this.update('rate', token, 'rating', body, expected);
  }

  async resolveDispute(servedMinutes: number): Promise<OrderView> {
    const token = await this.env.tokens.officer(this.plan.elder.districtCode);
    const note = '经电话回访核实，按实际服务时长更正';
    return this.update('resolve-dispute', token, 'dispute-resolution', { servedMinutes, note }, 'settled');
  }

  async cancelAsElder(): Promise<OrderView> {
    const token = await this.env.tokens.elder(this.plan.elder.id);
    return this.update('cancel', token, 'cancel', { reason: '老人临时有事' }, 'cancelled');
  }

  async cancelAsStaff(): Promise<OrderView> {
    const token = await this.env.tokens.reviewer(this.plan.elder.districtCode);
    return this.update('cancel', token, 'cancel', { reason: '街道核实后取消' }, 'cancelled');
  }

  async get(): Promise<OrderView> {
    const token = await this.env.tokens.elder(this.plan.elder.id);
    return this.env.api.call<OrderView>('GET', `/v1/orders/${this.requireId()}`, { token });
  }

  /**
   * Sleeps until `expectedAtMs`, when a workflow timer should have moved the
   * order, then polls until it reaches one of `statuses`. Fails when the
   * order ends in another final status, or has not arrived after a grace
   * period (the larger of 30 s and 600 policy minutes).
   */
  async waitFor(step: string, statuses: readonly OrderStatus[], expectedAtMs: number): Promise<OrderView> {
    await sleepUntil(expectedAtMs);
    const graceMs = Math.max(MIN_WAIT_GRACE_MS, this.minutesToMs(WAIT_GRACE_MINUTES));
    const deadline = Math.max(expectedAtMs, Date.now()) + graceMs;
    const pollMs = Math.max(MIN_POLL_INTERVAL_MS, this.minutesToMs(POLL_INTERVAL_MINUTES));
    for (;;) {
      const view = await this.run(step, () => this.get());
      if (statuses.includes(view.status)) return view;
      if (TERMINAL_STATUSES.includes(view.status)) {
        throw this.stepError(step, new Error(`expected ${statuses.join(' or ')}, but the order ended ${view.status}`));
      }
      if (Date.now() >= deadline) {
        const late = Math.round((Date.now() - expectedAtMs) / 1000);
        throw this.stepError(step, new Error(`timed out waiting for ${statuses.join(' or ')}: still ${view.status} ${late} s after the expected time`));
      }
      await sleep(pollMs);
    }
  }

  private async update(step: string, token: string, action: string, body: unknown, expected: OrderStatus): Promise<OrderView> {
    const view = await this.run(step, () =>
      this.env.api.call<OrderView>('POST', `/v1/orders/${this.requireId()}/${action}`, {
        token,
        body,
        idempotencyKey: this.key(step),
      }),
    );
    return this.expectStatus(step, view, expected);
  }

  private expectStatus(step: string, view: OrderView, expected: OrderStatus): OrderView {
    if (view.status !== expected) {
      throw this.stepError(step, new Error(`expected status ${expected} afterwards, got ${view.status}`));
    }
    return view;
  }

  private async run<T>(step: string, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (err) {
      if (err instanceof StepError) throw err;
      throw this.stepError(step, err);
    }
  }

  private stepError(step: string, cause: unknown): StepError {
    const reason = cause instanceof ApiRequestError || cause instanceof Error ? cause.message : String(cause);
    const order = this.id ? ` ${this.id}` : '';
    return new StepError(`order #${this.plan.index}${order} (${this.plan.path}), step ${step}: ${reason}`, { cause });
  }

  private key(step: string): string {
    return `demo.${this.env.runId}.${this.plan.index}.${step}`;
  }

  private requireId(): string {
    if (!this.id) throw new Error(`order #${this.plan.index} (${this.plan.path}) has not been requested yet`);
    return this.id;
  }
}

/** A failed step of an order flow; the message names the order, its path and the step. */
export class StepError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StepError';
  }
}
