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
import "../modules/providers/providers.types.js";
import "../modules/providers/providers.queries.js";
import "../modules/providers/providers.mutations.js";
import "../modules/connectors/connectors.types.js";
import "../modules/connectors/connectors.queries.js";
import "../modules/connectors/connectors.mutations.js";
import "../modules/history/history.types.js";
import "../modules/authorization/authorization.mutations.js";
import "../modules/subscriptions/subscriptions.js";

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});

export const schema = lexicographicSortSchema(builder.toSchema());
