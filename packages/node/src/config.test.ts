import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from './config.js';

describe('resolveConfig', () => {
  it('prefers options over the environment', () => {
    const config = resolveConfig(
      { serviceName: 'orders', db: 'x/traces.db', viewerUrl: 'http://v:1/' },
      { OTEL_SERVICE_NAME: 'env-name', LIFELINE_DB: '/env/traces.db', LIFELINE_VIEWER_URL: 'http://env:2' },
    );
    expect(config).toMatchObject({ serviceName: 'orders', dbPath: resolve('x/traces.db'), viewerUrl: 'http://v:1' });
  });

  it('reads OTEL_SERVICE_NAME, then service.name in OTEL_RESOURCE_ATTRIBUTES', () => {
    expect(resolveConfig({}, { OTEL_SERVICE_NAME: 'billing' }).serviceName).toBe('billing');
    expect(
      resolveConfig({}, { OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=dev,service.name=my%20api' }).serviceName,
    ).toBe('my api');
  });

  it('defaults the database to .lifeline/traces.db under the working directory and the viewer to port 4242', () => {
    const config = resolveConfig({}, {});
    expect(config.dbPath).toBe(join(process.cwd(), '.lifeline', 'traces.db'));
    expect(config.viewerUrl).toBe('http://127.0.0.1:4242');
    expect(config.disabled).toBe(false);
  });

  it('is disabled by LIFELINE_DISABLED=1 but not by 0 or false', () => {
    expect(resolveConfig({}, { LIFELINE_DISABLED: '1' }).disabled).toBe(true);
    expect(resolveConfig({}, { LIFELINE_DISABLED: 'true' }).disabled).toBe(true);
    expect(resolveConfig({}, { LIFELINE_DISABLED: '0' }).disabled).toBe(false);
    expect(resolveConfig({}, { LIFELINE_DISABLED: 'false' }).disabled).toBe(false);
  });

  it('exports every OTEL_BSP_SCHEDULE_DELAY milliseconds unless the option says otherwise, and every second by default', () => {
    expect(resolveConfig({}, {}).exportIntervalMs).toBe(1000);
    expect(resolveConfig({}, { OTEL_BSP_SCHEDULE_DELAY: '50' }).exportIntervalMs).toBe(50);
    expect(resolveConfig({}, { OTEL_BSP_SCHEDULE_DELAY: '0' }).exportIntervalMs).toBe(0);
    expect(resolveConfig({ exportIntervalMs: 200 }, { OTEL_BSP_SCHEDULE_DELAY: '50' }).exportIntervalMs).toBe(200);
    for (const bad of ['', 'soon', '-5', '2.5']) {
      expect(resolveConfig({}, { OTEL_BSP_SCHEDULE_DELAY: bad }).exportIntervalMs).toBe(1000);
    }
  });

  it('tracks data dependencies unless LIFELINE_DATA_DEPENDENCIES or the option turns it off', () => {
    expect(resolveConfig({}, {}).dataDependencies).toBe(true);
    expect(resolveConfig({}, { LIFELINE_DATA_DEPENDENCIES: 'off' }).dataDependencies).toBe(false);
    expect(resolveConfig({}, { LIFELINE_DATA_DEPENDENCIES: '0' }).dataDependencies).toBe(false);
    expect(resolveConfig({ dataDependencies: true }, { LIFELINE_DATA_DEPENDENCIES: 'off' }).dataDependencies).toBe(
      true,
    );
    expect(resolveConfig({ dataDependencies: false }, {}).dataDependencies).toBe(false);
  });
});
