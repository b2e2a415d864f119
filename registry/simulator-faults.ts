import { randomInt } from 'node:crypto';
import { z } from 'zod';

const rateSchema = z.number().min(0).max(1);

/**
 * Fault settings of the simulator. Omitted rates and delays are 0, so each
 * call replaces the previous settings as a whole.
 */
export const faultSettingsSchema = z.strictObject({
  /** Share of API requests that get a 503 response before anything is read or written. */
  failRate: rateSchema.default(0),
  /** Delay added before every API request is handled, in milliseconds. */
  slowMs: z.int().min(0).max(60_000).default(0),
  /**
   * Share of API requests that are handled (writes are committed) but get no
   * response, so the client times out on a write that took effect.
   */
  timeoutRate: rateSchema.default(0),
  /** Share of service record writes for a new id that get a 201 response but are not stored. */
  loseRecordRate: rateSchema.default(0),
  /** Seed of the random draws. A random seed is chosen when omitted. */
  seed: z.int().min(0).max(0xffff_ffff).optional(),
});

export type FaultSettingsInput = z.input<typeof faultSettingsSchema>;

/** Fault settings in effect, with the seed that was used. */
export type ActiveFaults = Required<z.output<typeof faultSettingsSchema>>;

/** The faults drawn for one API request. */
export interface FaultDraw {
  fail: boolean;
  hang: boolean;
  loseRecord: boolean;
}

/**
 * Draws faults from a seeded xorshift32 generator. Every request consumes
 * exactly three draws in a fixed order, so the same seed and the same
 * request order give the same faults.
 */
export class FaultInjector {
  private settings: ActiveFaults;
  private state = 1;

  constructor() {
    this.settings = this.replace({});
  }

  /** Validates and applies new settings. Throws a ZodError when they are invalid. */
  replace(input: FaultSettingsInput): ActiveFaults {
    const parsed = faultSettingsSchema.parse(input);
    const seed = parsed.seed ?? randomInt(1, 0xffff_ffff);
    this.settings = { ...parsed, seed };
    // xorshift32 stays at zero forever when seeded with zero.
    this.state = seed === 0 ? 0x9e37_79b9 : seed;
    return this.current();
  }

  current(): ActiveFaults {
    return { ...this.settings };
  }

  get slowMs(): number {
    return this.settings.slowMs;
  }

  draw(): FaultDraw {
    const fail = this.nextUnit() < this.settings.failRate;
    const hang = this.nextUnit() < this.settings.timeoutRate;
    const loseRecord = this.nextUnit() < this.settings.loseRecordRate;
    return { fail, hang, loseRecord };
  }

  /** Returns a uniform number in [0, 1). */
  private nextUnit(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state / 0x1_0000_0000;
  }
}
