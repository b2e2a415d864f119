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
    /**
     * Youngest age at which a school student may register as a volunteer
     * together with a guardian. The Beijing scheme names no lower bound;
     * 12 (the usual start of secondary school) is our default.
     */
    studentVolunteerMinAge: z.number().int().min(1).default(12),
    veryOldAge: z.number().int().min(1).default(80),
    grantCapMinutesPerElderPerYear: z.number().int().min(0).default(120 * 60),
    /** Optional savings cap per person in minutes; null turns it off. */
    savingsCapMinutes: z.number().int().min(1).nullable().default(null),
    nightStartHour: z.number().int().min(0).max(23).default(22),
    nightEndHour: z.number().int().min(0).max(23).default(6),
    /** Own served time (settled orders only) a care-home applicant needs: 10,000 hours. */
    careHomeServedMinutes: z.number().int().min(1).default(10_000 * 60),
    /** Coins a care-home applicant must hold, reserved at application and spent at admission: 10,000 coins. */
    careHomeCoinMinutes: z.number().int().min(1).default(10_000 * 60),
    careHomeMinAge: z.number().int().min(1).default(60),
    /**
     * Lowest ability-assessment (能力评估) level that counts as frail or disabled,
     * on the 0 (intact) to 4 (complete loss) scale of GB/T 42195-2022.
     * Applicants of veryOldAge or over qualify whatever their level.
     */
    careHomeMinAbilityLevel: z.number().int().min(0).max(4).default(1),
    /** The district's ability assessment is due this long after the application. */
    caseAssessmentDueMinutes: z.number().int().min(1).default(14 * 24 * 60),
    /** The district's approval is due this long after the assessment. */
    caseApprovalDueMinutes: z.number().int().min(1).default(14 * 24 * 60),
    /** Admission is due this long after placement; the case then waits on the applicant. */
    caseAdmissionDueMinutes: z.number().int().min(1).default(30 * 24 * 60),
    /** An overdue step is escalated to the city this long after its reminder. */
    caseEscalationAfterMinutes: z.number().int().min(1).default(7 * 24 * 60),
    /** Interval of reminders while a case waits for a free bed; the wait itself has no limit. */
    casePlacementReminderMinutes: z.number().int().min(1).default(30 * 24 * 60),
    /** A service record missing at Volunteer Beijing must be back-filled (补录) within this time of the report. */
    claimBackfillDeadlineMinutes: z.number().int().min(1).default(48 * 60),
    /** Interval between checks of a submitted claim's status at Volunteer Beijing. */
    claimStatusCheckMinutes: z.number().int().min(1).default(24 * 60),
    /** A claim whose status has not changed for this long is escalated to staff. */
    claimAnswerDueMinutes: z.number().int().min(1).default(30 * 24 * 60),
    /** First wait before retrying a failed Volunteer Beijing call; it doubles up to registryRetryMaxMinutes. */
    registryRetryMinutes: z.number().int().min(1).default(1),
    registryRetryMaxMinutes: z.number().int().min(1).default(60),
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
