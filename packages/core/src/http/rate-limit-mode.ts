/** `'enforce'` (the default) refuses over the limit; `'shadow'` decides and counts, and never refuses. */
export type RateLimitMode = 'enforce' | 'shadow';
