// The matchers' types for every test file (setupFiles in vitest.config.ts adds the matchers themselves).
import type {} from 'mailwire/vitest';
