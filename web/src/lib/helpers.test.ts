import { describe, expect, it } from 'vitest';
import { ApiError, errorFor, formError } from './errors';
import { conditionError, describeFilter, formatFilter, parseFilter, quoteValue } from './filter';
import { dataWritingExample, dataWritingUrl, describeSeconds, secretUntil } from './keys';
import { moveChanges, sortByPosition } from './order';
import { fillPostbackUrl } from './postback';
import { buildTimeline, CallDetails } from './timeline';
import { insertToken, tokensIn } from './tokens';

describe('filter', () => {
  it('formats conditions the server grammar reads back', () => {
    const text = formatFilter([
      { key: 'system_buyer_id', op: '==', value: '2' },
      { key: 'state', op: '!=', value: 'CA, NY' },
      { key: 'score', op: '>=', value: '7.5' },
    ]);
    expect(text).toBe('system_buyer_id:==2, state:!="CA, NY", score:>=7.5');
    expect(parseFilter(text)).toEqual([
      { key: 'system_buyer_id', op: '==', value: '2' },
      { key: 'state', op: '!=', value: 'CA, NY' },
      { key: 'score', op: '>=', value: '7.5' },
    ]);
  });
  it('quotes values that raw text would misread', () => {
    expect(quoteValue('plain')).toBe('plain');
    expect(quoteValue('=x')).toBe('"=x"');
    expect(quoteValue(' padded')).toBe('" padded"');
    expect(quoteValue('say "hi"')).toBe('"say \\"hi\\""');
    expect(parseFilter(`k:${quoteValue('a\\b"c')}`)).toEqual([{ key: 'k', op: '==', value: 'a\\b"c' }]);
  });
  it('catches the usual mistakes', () => {
    expect(conditionError({ key: '', op: '==', value: '1' })).toMatch(/key is empty/);
    expect(conditionError({ key: 'a b', op: '==', value: '1' })).toMatch(/letters/);
    expect(conditionError({ key: 'a', op: '==', value: '' })).toMatch(/value is empty/);
    expect(conditionError({ key: 'a', op: '>', value: 'ten' })).toMatch(/number/);
    expect(conditionError({ key: 'a', op: '~', value: 'ten' })).toBeNull();
    expect(parseFilter('a:')).toBeNull();
    expect(parseFilter('a 1')).toBeNull();
    expect(parseFilter('a:>x')).toBeNull();
    expect(parseFilter('  ')).toEqual([]);
  });
  it('reads OR within a key, AND across keys', () => {
    expect(describeFilter(parseFilter('state:CA, state:NY, system_buyer_id:2')!)).toBe(
      '(state is CA or state is NY) and system_buyer_id is 2',
    );
    expect(describeFilter([])).toBe('every call');
  });
});

describe('tokens', () => {
  it('inserts at the caret, replacing a selection', () => {
    expect(insertToken('https://b/?u=', 13, 13, 'call_uuid')).toEqual({ text: 'https://b/?u=[call_uuid]', caret: 24 });
    expect(insertToken('aXXb', 1, 3, 'k')).toEqual({ text: 'a[k]b', caret: 4 });
  });
  it('lists tokens, not escaped brackets', () => {
    expect(tokensIn('[[x]] [call_uuid]&[call_key]&[call_uuid]')).toEqual(['call_uuid', 'call_key']);
  });
});

describe('postback', () => {
  it('fills the instructions URL', () => {
    const url = 'http://h/calls/[call_uuid]/postback?key=[call_key]&value=REVENUE';
    expect(fillPostbackUrl(url, 'u-1', 'k/+', '12.50')).toBe('http://h/calls/u-1/postback?key=k%2F%2B&value=12.50');
    expect(fillPostbackUrl('http://h/calls/[call_uuid]/postback?key=[call_key]&sale', 'u', 'k')).toBe('http://h/calls/u/postback?key=k&sale');
  });
});

describe('errors', () => {
  it('puts a 400 beside the field it names', () => {
    const e = new ApiError(400, 'invalid_argument', 'requests[0].url: must start with http://', 'requests[0].url');
    expect(errorFor(e, 'requests[0].url')).toMatch(/must start/);
    expect(errorFor(e, 'requests')).toMatch(/must start/);
    expect(errorFor(e, 'requests[1].url')).toBeNull();
    expect(formError(e, ['requests'])).toBeNull();
    expect(formError(e, ['name'])).toMatch(/must start/);
    expect(formError(new ApiError(409, 'conflict', 'in use'), ['name'])).toBe('in use');
  });
});

describe('order', () => {
  it('moves a group and renumbers only what changes', () => {
    const list = sortByPosition([
      { id: 5, position: 0 },
      { id: 3, position: 0 },
      { id: 9, position: 2 },
    ]);
    expect(list.map((g) => g.id)).toEqual([3, 5, 9]);
    expect(moveChanges(list, 2, -1)).toEqual([
      { id: 9, position: 1 },
      { id: 5, position: 2 },
    ]);
    expect(moveChanges(list, 0, -1)).toEqual([]);
  });
});

describe('timeline', () => {
  it('orders steps, postbacks, the decision and webhook attempts', () => {
    const call: CallDetails = {
      uuid: 'u',
      status: 'completed',
      started_at: '2026-11-28T10:00:00.000Z',
      routed_at: '2026-11-28T10:00:00.000Z',
      answered_at: '2026-11-28T10:00:05.000Z',
      ended_at: '2026-11-28T10:01:00.000Z',
      duration_seconds: 55,
      hung_up_by: 'caller',
      buyer_id: 2,
      conversion: { state: 'converted', group_id: 7, revenue: '10.00', payout: '8.00', late: false, deadline_at: null, decided_at: '2026-11-28T10:02:00.000Z' },
      postbacks: [{ at: '2026-11-28T10:02:00.000Z', method: 'GET', params: { key: ['[redacted]'], value: ['10.00'] }, outcome: 'conversion recorded', http_status: 200 }],
      webhooks: [
        {
          id: 1,
          group_id: 4,
          request_index: 0,
          trigger: 'answered',
          url: 'http://r/',
          state: 'delivered',
          attempt_count: 2,
          next_attempt_at: null,
          created_at: '2026-11-28T10:00:05.000Z',
          attempts: [
            { at: '2026-11-28T10:00:06.000Z', http_status: 500, latency_ms: 3, error: null, response_excerpt: 'oops' },
            { at: '2026-11-28T10:00:16.000Z', http_status: 200, latency_ms: 2, error: null, response_excerpt: 'ok' },
          ],
        },
      ],
    };
    const t = buildTimeline(call);
    expect(t.map((e) => e.title)).toEqual([
      'started',
      'routed',
      'answered',
      'webhook answered #1, attempt 1',
      'webhook answered #1, attempt 2',
      'ended',
      'postback (GET)',
      'converted',
    ]);
    expect(t.find((e) => e.title === 'converted')!.detail).toBe('group 7, revenue 10.00 → payout 8.00');
    expect(t.find((e) => e.title.startsWith('postback'))!.detail).toBe('value=10.00 → conversion recorded');
    expect(t[3].ok).toBe(false);
    expect(t[3].detail).toBe('HTTP 500: oops');
  });

  it('says how many older postbacks the call view left out', () => {
    const postback = { at: '2026-11-28T10:02:00.000Z', method: 'GET', params: { key: ['[redacted]'] }, outcome: 'the call key is wrong', http_status: 401 };
    const call: CallDetails = {
      uuid: 'u',
      status: 'ended',
      started_at: '2026-11-28T10:00:00.000Z',
      routed_at: null,
      answered_at: null,
      ended_at: null,
      duration_seconds: null,
      hung_up_by: '',
      buyer_id: null,
      conversion: { state: 'pending', group_id: null, revenue: null, payout: null, late: false, deadline_at: null, decided_at: null },
      postbacks: [postback, postback],
      postbacks_total: 5,
    };
    const older = buildTimeline(call).filter((e) => e.title === 'older postbacks');
    expect(older.map((e) => e.detail)).toEqual(['3 older not shown (the newest 2 are)']);
    expect(buildTimeline({ ...call, postbacks_total: 2 }).some((e) => e.title === 'older postbacks')).toBe(false);
  });
});

describe('publisher keys and secrets', () => {
  it('builds the data-writing URL with the key in the path', () => {
    const key = 'cpd_63SRfG0-iG9BFm5ggNqlvZcdYZ9vuBi8eRp-tc3odeI';
    expect(dataWritingUrl('https://calls.example.com', key)).toBe(`https://calls.example.com/data_writing/${key}`);
    expect(dataWritingUrl('https://calls.example.com/', key)).toBe(`https://calls.example.com/data_writing/${key}`);
    expect(dataWritingUrl('http://h', 'a/b c')).toBe('http://h/data_writing/a%2Fb%20c');
    expect(dataWritingExample('http://h/data_writing/k')).toBe('http://h/data_writing/k?caller_number=%2B15551230000&lead_id=L-1001');
  });
  it('describes storage times', () => {
    expect(describeSeconds(86400)).toBe('1 day');
    expect(describeSeconds(7776000)).toBe('90 days');
    expect(describeSeconds(7200)).toBe('2 h');
    expect(describeSeconds(120)).toBe('2 min');
    expect(describeSeconds(61)).toBe('61 s');
  });
  it('reads previous_secret_until in milliseconds or RFC 3339', () => {
    expect(secretUntil(0)).toBe('1970-01-01T00:00:00.000Z');
    expect(secretUntil(1795900000000)).toBe(new Date(1795900000000).toISOString());
    expect(secretUntil('2026-11-28T22:53:30.232Z')).toBe('2026-11-28T22:53:30.232Z');
    expect(secretUntil('2026-11-28T23:53:30.232+01:00')).toBe('2026-11-28T22:53:30.232Z');
    expect(secretUntil(undefined)).toBeNull();
    expect(secretUntil('')).toBeNull();
    expect(secretUntil('x')).toBeNull();
  });
});
