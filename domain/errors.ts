/**
 * Stable error codes of the API and the workflows, with the HTTP status each
 * maps to and its message in Simplified Chinese (the default) and English.
 * Workflows raise ApplicationFailure with `type` set to one of these codes;
 * this file has no imports so workflow code can use it.
 */
export const ERROR_CATALOG = {
  VALIDATION_FAILED: { status: 400, zh: '请求参数不合法', en: 'The request is invalid' },
  MALFORMED_JSON: { status: 400, zh: '请求体不是合法的 JSON', en: 'The request body is not valid JSON' },
  PAYLOAD_TOO_LARGE: { status: 413, zh: '请求体过大', en: 'The request body is too large' },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    zh: '不支持请求体的字符集或编码',
    en: 'The charset or content encoding of the request body is not supported',
  },
  IDEMPOTENCY_KEY_REQUIRED: {
    status: 400,
    zh: '缺少 Idempotency-Key 请求头',
    en: 'The Idempotency-Key header is missing',
  },
  UNAUTHENTICATED: { status: 401, zh: '未登录或令牌无效', en: 'Missing or invalid bearer token' },
  FORBIDDEN: { status: 403, zh: '无权执行此操作', en: 'You are not allowed to do this' },
  NOT_FOUND: { status: 404, zh: '资源不存在', en: 'Not found' },
  PERSON_NOT_FOUND: { status: 404, zh: '人员不存在', en: 'Person not found' },
  ORDER_NOT_FOUND: { status: 404, zh: '订单不存在', en: 'Order not found' },
  ACCOUNT_NOT_FOUND: { status: 404, zh: '账户不存在', en: 'Account not found' },
  STREET_NOT_IN_DISTRICT: { status: 422, zh: '街道不属于该区', en: 'The street is not in that district' },
  RESIDENT_ID_INVALID: { status: 422, zh: '身份证号码无效', en: 'The resident ID number is invalid' },
  RESIDENT_ID_TAKEN: {
    status: 409,
    zh: '该身份证号码已注册，请使用已有账户',
    en: 'That resident ID number is already registered',
  },
  TOO_YOUNG: { status: 422, zh: '年龄不符合要求', en: 'The person is below the required age' },
  NOT_AN_ELDER: { status: 422, zh: '该人员不是已登记的老年人', en: 'The person is not a registered elder' },
  NOT_A_VOLUNTEER: { status: 422, zh: '该人员不是已登记的志愿者', en: 'The person is not a registered volunteer' },
  VOLUNTEER_SUSPENDED: { status: 409, zh: '志愿者资格已暂停或撤销', en: 'The volunteer is suspended or revoked' },
  INSURANCE_NOT_CONFIRMED: {
    status: 409,
    zh: '志愿者的意外保险尚未确认，暂不能接单',
    en: "The volunteer's accident insurance is not confirmed",
  },
  CANNOT_SERVE_SELF: { status: 409, zh: '不能承接自己发布的订单', en: 'A volunteer cannot accept their own order' },
  INSUFFICIENT_BALANCE: { status: 409, zh: '时间币可用余额不足', en: 'Not enough available time coins' },
  IDEMPOTENCY_CONFLICT: {
    status: 409,
    zh: '相同的幂等键已用于内容不同的请求',
    en: 'The idempotency key was already used for a different request',
  },
  ORDER_STATE_CONFLICT: { status: 409, zh: '订单当前状态不允许此操作', en: 'The order is not in a state that allows this' },
  ORDER_ALREADY_MATCHED: { status: 409, zh: '订单已被其他志愿者承接', en: 'Another volunteer already accepted the order' },
  VOLUNTEER_OVERLAP: {
    status: 409,
    zh: '该时段与您已承接的其他订单重叠',
    en: 'The order overlaps another order you hold',
  },
  SIGN_IN_WINDOW_CLOSED: {
    status: 409,
    zh: '不在签到时间范围内',
    en: 'Sign-in is outside the window around the scheduled start',
  },
  SCHEDULE_OUT_OF_RANGE: { status: 422, zh: '预约时间不在允许范围内', en: 'The scheduled start is outside the allowed range' },
  WORKFLOW_UNAVAILABLE: {
    status: 503,
    zh: '工作流服务暂不可用，请稍后重试',
    en: 'The workflow service is unavailable; retry later',
  },
  RELATIVE_NOT_VERIFIED: {
    status: 409,
    zh: '对方不是经核实的直系亲属，不能赠与时间币',
    en: 'The recipient is not a verified direct relative',
  },
  REDEMPTION_NOT_ALLOWED: {
    status: 403,
    zh: '本人或配偶年满 60 周岁后方可为自己兑换服务',
    en: 'Coins can be redeemed for oneself only once oneself or one’s spouse is 60 or over',
  },
  INTERNAL: { status: 500, zh: '服务器内部错误', en: 'Internal server error' },
  CASE_NOT_FOUND: { status: 404, zh: '入住申请不存在', en: 'Care-home application not found' },
  CASE_STATE_CONFLICT: {
    status: 409,
    zh: '入住申请当前状态不允许此操作',
    en: 'The care-home application is not in a state that allows this',
  },
  CASE_ALREADY_OPEN: { status: 409, zh: '该人员已有未办结的入住申请', en: 'The person already has an open care-home application' },
  CASE_NOT_ELIGIBLE: {
    status: 422,
    zh: '不符合公办养老机构入住条件',
    en: 'The applicant does not meet the care-home admission conditions',
  },
  CARE_HOME_NOT_FOUND: { status: 404, zh: '养老机构或床位不存在', en: 'Care home or bed not found' },
  CARE_HOME_NO_FREE_BED: { status: 409, zh: '没有空余床位，申请已进入轮候', en: 'No free bed; the application stays in the queue' },
  CASE_NOT_FIRST_IN_QUEUE: {
    status: 409,
    zh: '轮候队列中有更早的申请，须按申请顺序安置',
    en: 'An earlier application is waiting; beds go in application order',
  },
  BED_OCCUPIED: { status: 409, zh: '床位已有人入住或已分配', en: 'The bed is occupied or assigned' },
  CLAIM_NOT_FOUND: { status: 404, zh: '理赔案件不存在', en: 'Claim not found' },
  CLAIM_STATE_CONFLICT: { status: 409, zh: '理赔案件当前状态不允许此操作', en: 'The claim is not in a state that allows this' },
  CLAIM_ALREADY_REPORTED: { status: 409, zh: '该订单已报告过意外', en: 'An accident was already reported for this order' },
  ORDER_NOT_SERVED: {
    status: 422,
    zh: '订单没有签到签出的服务记录',
    en: 'The order has no recorded service (sign-in and sign-out)',
  },
  FOLLOW_UP_CALL_NOT_FOUND: { status: 404, zh: '回访任务不存在', en: 'Follow-up call not found' },
  FOLLOW_UP_CALL_DONE: { status: 409, zh: '回访任务已完成', en: 'The follow-up call is already done' },
  AGENT_NOT_REGISTERED: {
    status: 403,
    zh: '代办人未登记在经街道确认的机构下，或账号已停用',
    en: 'The agent is not an active agent of a confirmed institution',
  },
  AGENT_CONSENT_MISSING: {
    status: 403,
    zh: '被代办人尚未同意该机构代为办理',
    en: 'The person acted for has not consented to this institution acting for them',
  },
  GUARDIAN_INVALID: {
    status: 422,
    zh: '监护人须为已登记、年满 18 周岁且资格有效的志愿者',
    en: 'The guardian must be a registered, active adult volunteer',
  },
  GUARDIAN_REQUIRED: {
    status: 409,
    zh: '未满 18 周岁的学生志愿者须与监护人一同接单',
    en: 'A volunteer under 18 may accept an order only together with their guardian',
  },
  GUARDIAN_BUSY: {
    status: 409,
    zh: '监护人在该时段已有其他订单，不能陪同服务',
    en: 'The guardian holds another order at that time and cannot come along',
  },
  SIGN_IN_FAILED: { status: 401, zh: '登录名或密码错误', en: 'The login or password is wrong' },
  TOO_MANY_SIGN_IN_ATTEMPTS: {
    status: 429,
    zh: '登录失败次数过多，请稍后再试',
    en: 'Too many failed sign-ins; retry after the time in Retry-After',
  },
  INSTITUTION_NOT_FOUND: { status: 404, zh: '机构不存在', en: 'Institution not found' },
  CONSENT_NOT_FOUND: { status: 404, zh: '代办授权不存在', en: 'Consent not found' },
  LOGIN_TAKEN: { status: 409, zh: '该登录名已被使用', en: 'That login is already in use' },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CATALOG, value);
}
