import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseHash, routeHash } from '../../src/web/ui/src/route.js';

describe('the UI\'s hash routes', () => {
  it('takes a hash that is not valid percent-encoding as written (#/m/%E0 blanked the page)', () => {
    assert.deepEqual(parseHash('#/m/%E0'), { view: 'inbox', id: '%E0', tab: null });
    assert.deepEqual(parseHash('#/m/%E0%A4/raw'), { view: 'inbox', id: '%E0%A4', tab: 'raw' });
    assert.deepEqual(parseHash('#/sessions/%'), { view: 'sessions', id: '%' });
    assert.deepEqual(parseHash('#/%ZZ'), { view: 'inbox', id: null, tab: null });
  });

  it('reads back what it writes', () => {
    for (const r of [
      { view: 'inbox', id: 'a/b c', tab: 'html' }, { view: 'inbox', id: null, tab: null }, { view: 'sessions', id: 's 1' },
      { view: 'sessions', id: null }, { view: 'faults' },
    ] as const) assert.deepEqual(parseHash(routeHash(r)), r);
    assert.deepEqual(parseHash('#/m/x/nope'), { view: 'inbox', id: 'x', tab: null });
  });
});
