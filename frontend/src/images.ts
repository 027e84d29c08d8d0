// Images attached to a prompt (docs/protocol.md "Images in prompts"): the checks the server makes, made
// here first so the user hears at once what is wrong (type, size, how many), and a picked or pasted file
// read as the `{ media_type, data }` the server takes (standard base64, no `data:` prefix).

import type { ImageAttachment } from './events';

/** The types the Messages API takes. */
export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'] as const;
/** Largest image, in bytes (the server's and the Messages API's limit). */
export const MAX_IMAGE_BYTES = 5 * 1024 * 1024;
/** Most images one prompt may carry. */
export const MAX_IMAGES = 4;

/** Why `file` cannot be attached next to `already` images, or null when it can. */
export function imageProblem(file: Pick<File, 'name' | 'type' | 'size'>, already: number): string | null {
  const name = file.name || 'The pasted image';
  if (!(IMAGE_TYPES as readonly string[]).includes(file.type)) {
    return `${name} is not a PNG, JPEG, GIF or WebP image, which are the kinds Claude can see.`;
  }
  if (file.size > MAX_IMAGE_BYTES) {
    return `${name} is ${(file.size / 1024 / 1024).toFixed(1)} MB: an image may have at most 5 MB.`;
  }
  if (already >= MAX_IMAGES) return `At most ${MAX_IMAGES} images go with one prompt.`;
  return null;
}

/** Reads a file as an attachment (its bytes as standard base64). */
export function readImage(file: Blob & { type: string }): Promise<ImageAttachment> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onerror = () => reject(reader.error ?? new Error('the file could not be read'));
    reader.onload = () => {
      const url = String(reader.result);
      resolve({ media_type: file.type as ImageAttachment['media_type'], data: url.slice(url.indexOf(',') + 1) });
    };
    reader.readAsDataURL(file);
  });
}

/** The `data:` URL that shows an attachment. */
export const imageSrc = (image: ImageAttachment) => `data:${image.media_type};base64,${image.data}`;

/** The images of a wire value (an event's `images`), the well-formed ones only. */
export function imagesOf(value: unknown): ImageAttachment[] {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (i): i is ImageAttachment =>
      !!i && typeof i === 'object' && (IMAGE_TYPES as readonly string[]).includes((i as ImageAttachment).media_type) && typeof (i as ImageAttachment).data === 'string',
  );
}
