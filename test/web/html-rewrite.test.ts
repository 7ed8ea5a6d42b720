import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { previewHtml, resolveCids, withBaseTarget, withoutScripts } from '../../src/web/html-rewrite.js';

describe('HTML rewriting for the preview', () => {
  it('puts <base target> where the document allows it', () => {
    assert.equal(withBaseTarget('<p>x</p>'), '<base target="_blank"><p>x</p>');
    assert.equal(withBaseTarget('<!DOCTYPE html><p>x</p>'), '<!DOCTYPE html><base target="_blank"><p>x</p>');
    assert.equal(withBaseTarget('<!doctype html><HTML lang=en><p>x'), '<!doctype html><HTML lang=en><base target="_blank"><p>x');
    assert.equal(withBaseTarget('<html><HEAD id=h><p>'), '<html><HEAD id=h><base target="_blank"><p>');
  });

  it('resolves cid: in attributes and CSS, matching Content-IDs without brackets or case', () => {
    const atts = [{ index: 3, filename: 'a.png', contentType: 'image/png', size: 1, contentId: '<A@b>', disposition: 'inline' as const }];
    assert.equal(resolveCids(`<img src=cid:a@B><div style="background:url(cid:a@b)">`, atts, 'http://h/x/'),
      `<img src=http://h/x/3><div style="background:url(http://h/x/3)">`);
    assert.equal(resolveCids('<img src="cid:a%40b">', atts, 'u/'), '<img src="u/3">');
    assert.equal(resolveCids('<img src="cid:other">', atts, 'u/'), '<img src="cid:other">');
  });

  it('strips script elements, event-handler attributes and javascript: URLs, and leaves the rest as written', () => {
    assert.equal(withoutScripts('<p>a</p><script>alert(1)</script><SCRIPT src="x.js"></SCRIPT ><p>b</p>'), '<p>a</p><p>b</p>');
    assert.equal(withoutScripts('<script src="unclosed.js"><p>c</p>'), '<p>c</p>');
    assert.equal(withoutScripts('<img src=x onerror="alert(1)" alt=y><body ONLOAD=go()>'), '<img src=x alt=y><body>');
    assert.equal(withoutScripts(`<a href="javascript:alert(1)">a</a><a href='javascript:x'>b</a><iframe src=javascript:x>`),
      `<a href="#alert(1)">a</a><a href='#x'>b</a><iframe src=#x>`);
    assert.equal(withoutScripts('<p onclick-free="x">one on two</p>'), '<p onclick-free="x">one on two</p>');
  });

  it('does all three for the preview: scripts out, cid: resolved, <base target> in the head', () => {
    const atts = [{ index: 0, filename: 'a.png', contentType: 'image/png', size: 1, contentId: '<a@b>', disposition: 'inline' as const }];
    assert.equal(previewHtml('<html><head></head><body onload="x()"><img src="cid:a@b"><script>y()</script></body></html>', atts, 'u/'),
      '<html><head><base target="_blank"></head><body><img src="u/0"></body></html>');
  });
});
