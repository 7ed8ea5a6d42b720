import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParseCache } from '../../src/store/parse-cache.js';

/** A parse that counts its calls and answers `parsed:<id>#<call>`, so a reused result shows which call made it. */
function counting(): { calls: string[]; parse: (id: string) => () => Promise<string> } {
  const calls: string[] = [];
  return { calls, parse: (id) => () => { calls.push(id); return Promise.resolve(`parsed:${id}#${calls.length}`); } };
}

describe('ParseCache (parses of messages read)', () => {
  it('gives reads at the same time one parse', async () => {
    const cache = new ParseCache<string>({ entries: 4, bytes: 1000 });
    const { calls, parse } = counting();
    assert.deepEqual(await Promise.all([cache.get('a', 10, parse('a')), cache.get('a', 10, parse('a'))]), ['parsed:a#1', 'parsed:a#1']);
    assert.deepEqual(calls, ['a']);
  });

  it('keeps the most recently used entries', async () => {
    const cache = new ParseCache<string>({ entries: 2, bytes: 1000 });
    const { calls, parse } = counting();
    for (const id of ['a', 'b', 'a', 'c', 'a', 'b']) await cache.get(id, 10, parse(id));
    // 'a' was used again before 'c' came, so 'b' went; 'b' is parsed anew and 'c' makes way for it.
    assert.deepEqual(calls, ['a', 'b', 'c', 'b']);
    assert.equal(cache.size, 2);
    assert.equal(await cache.get('a', 10, parse('a')), 'parsed:a#1');
  });

  it('is bounded by the size of the messages behind its entries', async () => {
    const cache = new ParseCache<string>({ entries: 10, bytes: 100 });
    const { calls, parse } = counting();
    await cache.get('big', 150, parse('big'));
    await cache.get('big', 150, parse('big')); // over the bound alone: never kept
    await cache.get('x', 60, parse('x'));
    await cache.get('y', 60, parse('y')); // 120 bytes: the older goes
    await cache.get('y', 60, parse('y'));
    await cache.get('x', 60, parse('x'));
    assert.deepEqual(calls, ['big', 'big', 'x', 'y', 'x']);
  });

  it('drops a parse that failed, so the next read tries again', async () => {
    const cache = new ParseCache<string>({ entries: 4, bytes: 1000 });
    await assert.rejects(cache.get('a', 10, () => Promise.reject(new Error('parser thread exited'))), /exited/);
    assert.equal(cache.size, 0);
    assert.equal(await cache.get('a', 10, () => Promise.resolve('second try')), 'second try');
  });
});
