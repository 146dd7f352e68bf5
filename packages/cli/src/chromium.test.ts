import { describe, expect, it } from 'vitest';
import { ChromiumNotFoundError, findChromium, requireChromium } from './chromium.js';
import { UserError } from './errors.js';
import { renderMermaidImage } from './render-image.js';

/** The library throws its own error; only the command layer turns it into a UserError. */
describe('finding Chromium', () => {
  it('throws ChromiumNotFoundError, not the CLI UserError, for a LIFELINE_CHROMIUM that is not executable', () => {
    const attempt = () => findChromium({ LIFELINE_CHROMIUM: '/nonexistent/chromium', PATH: '' });
    expect(attempt).toThrow(ChromiumNotFoundError);
    expect(attempt).toThrow(/LIFELINE_CHROMIUM=\/nonexistent\/chromium is not an executable file/);
    try {
      attempt();
    } catch (error) {
      expect(error).not.toBeInstanceOf(UserError);
    }
  });

  it('returns undefined when nothing is on the PATH', () => {
    expect(findChromium({ PATH: '' })).toBeUndefined();
  });

  it('says what to install when rendering finds no Chromium', async () => {
    const saved = { path: process.env.PATH, chromium: process.env.LIFELINE_CHROMIUM };
    process.env.PATH = '';
    delete process.env.LIFELINE_CHROMIUM;
    try {
      expect(() => requireChromium('--format svg')).toThrow(ChromiumNotFoundError);
      await expect(renderMermaidImage('sequenceDiagram\n  A->>B: hi', { format: 'svg' })).rejects.toThrow(
        /--format svg needs a Chromium .*apt-get install chromium/,
      );
    } finally {
      process.env.PATH = saved.path;
      if (saved.chromium !== undefined) process.env.LIFELINE_CHROMIUM = saved.chromium;
    }
  });
});
