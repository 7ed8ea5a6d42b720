/** A page as the API sends it, for a store that reads on the thread that answers (memory, PostgreSQL). */
import type { JsonPage, Page } from './types.js';

export const jsonPage = <T>(page: Page<T>): JsonPage => ({ itemsJson: JSON.stringify(page.items), nextCursor: page.nextCursor });
