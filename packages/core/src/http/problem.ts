/** RFC 9457 problem type for an exhausted quota, from draft-ietf-httpapi-ratelimit-headers. */
export const QUOTA_EXCEEDED_TYPE = 'https://iana.org/assignments/http-problem-types#quota-exceeded';

/** The media type of RFC 9457 problem details: the `Content-Type` of every refusal tollgate sends. */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** The body of a 429: which policies refused the request. */
export function quotaExceededBody(violatedPolicies: readonly string[], retryAfter: number): string {
  return JSON.stringify({
    type: QUOTA_EXCEEDED_TYPE,
    title: 'Request cannot be satisfied as assigned quota has been exceeded',
    status: 429,
    detail: `Too many requests. Retry after ${retryAfter} second${retryAfter === 1 ? '' : 's'}.`,
    'violated-policies': violatedPolicies,
  });
}

/** The body of a 503 sent when the store is down and `failMode` is `'closed'`. */
export function storeUnavailableBody(): string {
  return JSON.stringify({
    type: 'about:blank',
    title: 'Service Unavailable',
    status: 503,
    detail: 'The rate limit service is unavailable. Retry shortly.',
  });
}
