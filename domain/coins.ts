/** One time coin (时间币) is one hour of service, stored as 60 integer minutes. */
export const MINUTES_PER_COIN = 60;

/**
 * Formats minutes as coins with two decimals, rounded toward zero, using only
 * integer arithmetic (90 -> "1.50", 20 -> "0.33", -30 -> "-0.50").
 */
export function formatCoins(minutes: number): string {
  const sign = minutes < 0 ? '-' : '';
  const hundredths = Math.floor((Math.abs(minutes) * 100) / MINUTES_PER_COIN);
  const whole = Math.floor(hundredths / 100);
  const fraction = String(hundredths % 100).padStart(2, '0');
  return `${sign}${whole}.${fraction}`;
}

/** A coin amount as the API shows it: exact minutes plus the coin figure. */
export function coinAmount(minutes: number): { minutes: number; coins: string } {
  return { minutes, coins: formatCoins(minutes) };
}
