import { describe, expect, it } from 'vitest';
import { routeLimiterName } from './route-name.js';

describe('routeLimiterName', () => {
  it('keeps the names existing route buckets are stored under (pinned: a change would move them)', () => {
    expect(routeLimiterName('GET', '/api/login')).toBe('GET.api.login.b11a38a3d686');
    expect(routeLimiterName('GET,POST', '/report/:id', '[["version","1.2.0"]]')).toBe(
      'GET-POST.report._id.8ab91ed4463f',
    );
    // Hashed from UTF-16 code units: a lone surrogate keeps its own name.
    expect(routeLimiterName('GET', '/x\ud800')).toBe('GET.x_.bf2f24f60838');
    expect(routeLimiterName('GET', '/x\ud800')).not.toBe(routeLimiterName('GET', '/x\udfff'));
  });
});
