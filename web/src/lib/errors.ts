// API errors: {"error":{"code","message","field"}}. A 400 names the field at fault
// ("requests[0].url", "buyers[1].weight", "tags.zip"); forms show the message beside it.

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public field?: string,
  ) {
    super(message);
  }
}

/** The error to show beside `field`: one naming it, or a nested field under it. */
export function errorFor(err: unknown, field: string): string | null {
  if (!(err instanceof ApiError) || !err.field) return null;
  if (err.field === field || err.field.startsWith(field + '.') || err.field.startsWith(field + '[')) {
    return err.message;
  }
  return null;
}

/** The error to show at the top of a form: one that names no field the form has. */
export function formError(err: unknown, fields: string[]): string | null {
  if (err === null || err === undefined) return null;
  if (err instanceof ApiError) {
    if (err.field && fields.some((f) => errorFor(err, f) !== null)) return null;
    return err.message;
  }
  return err instanceof Error ? err.message : String(err);
}
