// The client's checks of attached images (the server makes the same ones), and the service worker's
// take-over offer of a page (pwa.ts).

import { describe, expect, it } from 'vitest';
import { imageProblem, imagesOf, MAX_IMAGE_BYTES, readImage } from './images';
import { offerTakeOver, ownScript } from './pwa';

describe('attached images', () => {
  it('takes the four types up to 5 MB, four at most, and says why otherwise', () => {
    for (const type of ['image/png', 'image/jpeg', 'image/gif', 'image/webp']) {
      expect(imageProblem({ name: 'a', type, size: MAX_IMAGE_BYTES }, 3)).toBeNull();
    }
    expect(imageProblem({ name: 'x.svg', type: 'image/svg+xml', size: 10 }, 0)).toMatch(/x\.svg is not a PNG, JPEG, GIF or WebP image/);
    expect(imageProblem({ name: 'x.heic', type: 'image/heic', size: 10 }, 0)).toMatch(/not a PNG/);
    expect(imageProblem({ name: 'big.png', type: 'image/png', size: MAX_IMAGE_BYTES + 1 }, 0)).toMatch(/big\.png is 5\.0 MB: an image may have at most 5 MB/);
    expect(imageProblem({ name: 'a.png', type: 'image/png', size: 1 }, 4)).toMatch(/At most 4 images/);
    expect(imageProblem({ name: '', type: 'text/plain', size: 1 }, 0)).toMatch(/^The pasted image/);
  });

  it('reads a file as standard base64 without the data: prefix', async () => {
    const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const image = await readImage(new File([bytes], 'a.png', { type: 'image/png' }));
    expect(image).toEqual({ media_type: 'image/png', data: 'iVBORw0KGgo=' });
  });

  it('keeps only well-formed images of a wire value', () => {
    expect(imagesOf([{ media_type: 'image/png', data: 'AA==' }, { media_type: 'text/html', data: 'x' }, null, 'x'])).toEqual([{ media_type: 'image/png', data: 'AA==' }]);
    expect(imagesOf(undefined)).toEqual([]);
  });
});

describe('a new service worker', () => {
  it('is offered the page with the path of the page’s own script', () => {
    expect(ownScript('http://127.0.0.1:8080/assets/index-abc.js')).toBe('/assets/index-abc.js');
    const posted: unknown[] = [];
    offerTakeOver({ postMessage: (m: unknown) => posted.push(m) }, '/assets/index-abc.js');
    expect(posted).toEqual([{ type: 'SKIP_WAITING', script: '/assets/index-abc.js' }]);
    offerTakeOver(null);
  });
});
