/**
 * The pieces every admin route's OpenAPI description is built from (openapi.ts and the *-routes.ts files
 * that describe their own paths), so an answer that means the same thing is described the same way.
 */

export type Schema = Record<string, unknown>;

/** An answer with a JSON body of `schema`. */
export const json = (schema: Schema, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
/** A reference to a schema of the document's components. */
export const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
/** A required JSON request body of `schema`. */
export const jsonRequest = (schema: Schema) => ({ required: true, content: { 'application/json': { schema } } });
/** An error answer: `{"error": "..."}` (components.schemas.Error). */
export const error = (description: string) => json(ref('Error'), description);
/** An answer with a plain-text body. */
export const text = (description: string) => ({ description, content: { 'text/plain': { schema: { type: 'string' } } } });

/** What every authenticated route may answer besides its own. */
export const DENIED = {
  '401': text('no or wrong bearer token'),
  '429': text('ADMIN_RATE_PER_MIN exceeded (per source address and per operator); Retry-After says when to retry'),
};
