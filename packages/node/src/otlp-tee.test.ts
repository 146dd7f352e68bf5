import { describe, expect, it } from 'vitest';
import { localStoreOff, otlpTeeSettings } from './otlp-tee.js';

describe('the OTLP tee settings', () => {
  it('turns on with either standard endpoint variable, the traces one first', () => {
    expect(otlpTeeSettings({})).toBeUndefined();
    expect(otlpTeeSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' })).toBeUndefined();
    expect(otlpTeeSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toEqual({
      endpoint: 'http://c:4318',
      protocol: 'http/protobuf',
    });
    expect(
      otlpTeeSettings({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:4318/v1/traces',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      }),
    ).toEqual({ endpoint: 'http://t:4318/v1/traces', protocol: 'http/json' });
  });

  it('refuses gRPC and unknown protocols with what to set instead', () => {
    expect(() =>
      otlpTeeSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }),
    ).toThrow(/"grpc" is not one Lifeline sends: set OTEL_EXPORTER_OTLP_PROTOCOL to http\/protobuf or http\/json/);
  });

  it('reads LIFELINE_STORE=off and its synonyms', () => {
    for (const value of ['off', 'OFF', '0', 'false', 'no']) expect(localStoreOff({ LIFELINE_STORE: value })).toBe(true);
    for (const value of [undefined, '', 'on', '1']) expect(localStoreOff({ LIFELINE_STORE: value })).toBe(false);
  });
});
