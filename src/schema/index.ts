// Assembles the schema: imports every module for its side effects, then builds.
import { lexicographicSortSchema } from "graphql";
import { builder } from "../builder.js";
import "../modules/common/errors.types.js";
import "../modules/common/nodes.js";
import "../modules/workspaces/workspaces.types.js";
import "../modules/workspaces/workspaces.queries.js";
import "../modules/workspaces/workspaces.mutations.js";
import "../modules/api-keys/api-keys.types.js";
import "../modules/api-keys/api-keys.mutations.js";
import "../modules/credentials/credentials.types.js";
import "../modules/credentials/credentials.queries.js";
import "../modules/credentials/credentials.mutations.js";
import "../modules/credentials/rotation.mutations.js";
import "../modules/providers/providers.types.js";
import "../modules/providers/providers.queries.js";
import "../modules/providers/providers.mutations.js";
import "../modules/connectors/connectors.types.js";
import "../modules/connectors/connectors.queries.js";
import "../modules/connectors/connectors.mutations.js";
import "../modules/history/history.types.js";
import "../modules/authorization/authorization.mutations.js";
import "../modules/subscriptions/subscriptions.js";
import "../modules/connect-sessions/connect-sessions.types.js";

builder.queryType({
  description:
    "Reads. Every field needs `Authorization: Bearer <API key or JWT>`; each says which scope it needs.",
});
builder.mutationType({
  description:
    "Changes. Each mutation takes one `input` and returns a payload union: its `…Success` type, or a typed error implementing `Error` (ValidationError, NotFoundError, …). Missing scopes fail in `errors` with code FORBIDDEN and `extensions.requiredScopes`.",
});
builder.subscriptionType({
  description:
    "Live events over graphql-ws (WebSocket) or graphql-sse. Authorized once, when the subscription starts; each event is filtered to what the caller may see. A stream that ends early ends with an error of code SUBSCRIPTION_ENDED and an `extensions.reason`.",
});

export const schema = lexicographicSortSchema(builder.toSchema());
