import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { describe, expect, it } from 'vitest';
import { NotFoundError, TilelensError } from '../../server/lib/errors.ts';
import { AreaError } from '../../server/lib/projects/area.ts';
import { ScoringError } from '../../server/lib/scoring/errors.ts';
import { ApiError, describeError, errorHandler } from '../../server/middleware/errors.ts';

function answer(err: unknown) {
  const logs: string[] = [];
  const { status, body } = describeError(err, (m) => logs.push(m));
  return { status, error: body.error, logs };
}

describe('describeError', () => {
  it('answers a client mistake with its code, reason, hint and issues, and logs nothing', () => {
    const issues = [{ path: 'area', message: 'not GeoJSON' }];
    const a = answer(
      new TilelensError('invalid-request', 'the body is invalid', { status: 400, hint: 'send JSON', issues }),
    );
    expect(a).toEqual({
      status: 400,
      error: { code: 'invalid-request', message: 'the body is invalid', hint: 'send JSON', issues },
      logs: [],
    });
    expect(answer(new AreaError('too-large', 'the area is 6000 km²'))).toMatchObject({
      status: 400,
      error: { code: 'area-too-large', message: 'the area is 6000 km²' },
    });
    expect(answer(new NotFoundError('project 7', 'GET /api/projects lists them'))).toMatchObject({
      status: 404,
      error: { code: 'not-found', message: 'project 7 does not exist', hint: 'GET /api/projects lists them' },
    });
    expect(answer(new ScoringError('job-active', 'project 3 is being scored')).status).toBe(409);
    expect(answer(new ApiError(422, 'no-truth', 'no truth here')).error.code).toBe('no-truth');
  });

  it('answers a server fault with its code and its message without server paths, the details only in the log', () => {
    const err = new ScoringError(
      'model-file-missing',
      'the weights at /srv/tilelens/models/unet.onnx are gone',
    );
    const a = answer(err);
    expect(a.status).toBe(500);
    expect(a.error.code).toBe('model-file-missing');
    expect(a.error.message).toBe('the weights at …/unet.onnx are gone');
    expect(JSON.stringify(a.error)).not.toContain('/srv/tilelens');
    const ref = /reference (\w+)/.exec(a.error.hint!)![1];
    expect(a.logs).toHaveLength(1);
    expect(a.logs[0]).toContain(ref);
    expect(a.logs[0]).toContain('/srv/tilelens/models/unet.onnx');
  });

  it('answers an error nobody classified with a reference only', () => {
    const a = answer(new Error('SQLITE_CORRUPT at /var/lib/tilelens/tilelens.db'));
    expect(a.status).toBe(500);
    expect(a.error.code).toBe('internal');
    expect(a.error.message).toMatch(/^the server failed on this request \(reference \w+\)$/);
    expect(JSON.stringify(a.error)).not.toMatch(/SQLITE|tilelens\.db/);
    expect(a.logs[0]).toMatch(/SQLITE_CORRUPT/);
  });

  it("answers Hono's own refusals as bad requests", () => {
    expect(answer(new HTTPException(400, { message: 'Malformed JSON in request body' }))).toMatchObject({
      status: 400,
      error: { code: 'bad-request', message: 'Malformed JSON in request body' },
    });
  });

  it('is the one place a Hono app turns thrown errors into JSON', async () => {
    const app = new Hono();
    app.onError(errorHandler(() => {}));
    app.get('/gone', () => {
      throw new NotFoundError('tile 18-1-2');
    });
    const res = await app.request('/gone');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'not-found', message: 'tile 18-1-2 does not exist' } });
  });
});
