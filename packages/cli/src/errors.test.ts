import { describe, expect, it } from 'vitest';
import { describeUnexpected, oneLine } from './errors.js';

describe('describeUnexpected', () => {
  it('gives one line that says how to see the stack when debugging is off', () => {
    const text = describeUnexpected(new Error('disk full\nwhile writing'), false);
    expect(text).toBe(
      'unexpected error: disk full while writing (run again with LIFELINE_DEBUG=1 to see the stack trace)',
    );
  });

  it('gives the whole stack when LIFELINE_DEBUG=1 asked for it', () => {
    const error = new Error('disk full');
    expect(describeUnexpected(error, true)).toBe(error.stack);
  });

  it('describes values that are not errors', () => {
    expect(describeUnexpected('plain string', false)).toMatch(/^unexpected error: plain string /);
  });
});

describe('oneLine', () => {
  it('joins the lines of a message with single spaces', () => {
    expect(oneLine('  first\n   second \n third ')).toBe('first second third');
  });
});
