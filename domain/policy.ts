import { z } from 'zod';

/**
 * Policy numbers of the time bank scheme. Every value here is a default chosen
 * for Beijing; another city (or a district override) supplies its own through
 * configuration. Durations are in minutes of policy time, which the clock scale
 * in the runtime configuration turns into milliseconds.
 */
export const policySchema = z
  .object({
    /** Served time is capped at the booked duration plus this allowance. */
    servedCapAllowanceMinutes: z.number().int().min(0).default(30),
    /** Served time is rounded down to whole units of this length. */
    servedRoundingMinutes: z.number().int().min(1).default(30),
    minBookedMinutes: z.number().int().min(1).default(30),
    maxBookedMinutes: z.number().int().min(1).default(240),
    /** The earliest scheduled start an elder may ask for, counted from the request. */
    minLeadMinutes: z.number().int().min(0).default(180),
    /** The latest scheduled start an elder may ask for, counted from the request. */
    maxAdvanceDays: z.number().int().min(1).default(30),
    reviewReminderMinutes: z.number().int().min(1).default(24 * 60),
    reviewEscalationMinutes: z.number().int().min(1).default(48 * 60),
    /** Orders still unmatched this long before the scheduled start are cancelled. */
    matchDeadlineBeforeStartMinutes: z.number().int().min(0).default(120),
    signInOpensBeforeStartMinutes: z.number().int().min(0).default(30),
    signInClosesAfterStartMinutes: z.number().int().min(1).default(60),
    /** Without sign-out by the booked end plus this, the order closes at the booked end. */
    autoCloseAfterBookedEndMinutes: z.number().int().min(1).default(120),
    ratingWindowMinutes: z.number().int().min(1).default(72 * 60),
    autoSettleAfterSignOutMinutes: z.number().int().min(1).default(7 * 24 * 60),
    followUpCallDueMinutes: z.number().int().min(1).default(3 * 24 * 60),
    /** Share of settled orders sampled for a follow-up call, in percent. */
    followUpSamplePercent: z.number().int().min(0).max(100).default(10),
    /** A volunteer may redeem coins for themselves from this age (self or spouse). */
    redemptionAge: z.number().int().min(1).default(60),
    elderMinAge: z.number().int().min(1).default(60),
    volunteerMinAge: z.number().int().min(1).default(18),
    veryOldAge: z.number().int().min(1).default(80),
    grantCapMinutesPerElderPerYear: z.number().int().min(0).default(120 * 60),
    /** Optional savings cap per person in minutes; null turns it off. */
    savingsCapMinutes: z.number().int().min(1).nullable().default(null),
    nightStartHour: z.number().int().min(0).max(23).default(22),
    nightEndHour: z.number().int().min(0).max(23).default(6),
  })
  .refine((p) => p.minBookedMinutes <= p.maxBookedMinutes, {
    message: 'minBookedMinutes must not exceed maxBookedMinutes',
    path: ['minBookedMinutes'],
  })
  .refine((p) => p.reviewReminderMinutes < p.reviewEscalationMinutes, {
    message: 'reviewReminderMinutes must be shorter than reviewEscalationMinutes',
    path: ['reviewReminderMinutes'],
  });

export type Policy = z.infer<typeof policySchema>;

export const defaultPolicy: Policy = policySchema.parse({});

/**
 * The part of the configuration a workflow receives as input, so the workflow
 * never reads the environment. `minuteMs` is how many real milliseconds one
 * policy minute lasts: 60,000 in production, a few milliseconds in the demo.
 */
export interface WorkflowPolicy {
  policy: Policy;
  minuteMs: number;
}
