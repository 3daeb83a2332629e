import { builder } from "../../builder.js";
import { callerOf } from "../../context.js";
import { commonErrors } from "../common/errors.types.js";
import { rawIdOf } from "../common/ids.js";
import { credentialRawId } from "../credentials/credentials.types.js";
import { createConnector, deleteConnector, updateConnector } from "./connectors.service.js";
import {
  ConnectorRef,
  ConnectorStatusEnum,
  connectorGlobalId,
  connectorsWrite,
} from "./connectors.types.js";

type Row = { id: string };

const ConnectorSuccess = (name: string) =>
  builder.objectRef<{ connector: Row }>(name).implement({
    description: "The mutation succeeded; the connector as it is now.",
    // The connector inside needs connectors:read on top (its own type rule).
    authScopes: connectorsWrite,
    fields: (t) => ({
      connectorId: t.id({
        description: "The connector's id, for callers without connectors:read.",
        resolve: (result) => connectorGlobalId(result.connector.id),
      }),
      connector: t.field({
        type: ConnectorRef,
        description: "The connector as it is now.",
        resolve: (result) => result.connector as never,
      }),
    }),
  });

const CreateConnectorInput = builder.inputType("CreateConnectorInput", {
  description: "The new connector's name, app, environment and credential.",
  fields: (t) => ({
    name: t.string({ description: "Display name, unique within the environment.", required: true }),
    appKey: t.string({ required: true, description: "The app or provider, e.g. github." }),
    environmentId: t.id({
      description: "Required unless your API key is limited to one environment.",
    }),
    credentialId: t.id({ required: true, description: "A credential of the same environment." }),
  }),
});

builder.mutationField("createConnector", (t) =>
  t.field({
    description:
      "Creates a connector that uses one credential of the same environment; it starts ACTIVE. Returns ValidationError (taken name, credential of another environment) or NotFoundError (credential or environment).",
    type: ConnectorSuccess("CreateConnectorSuccess"),
    authScopes: connectorsWrite,
    errors: {
      types: commonErrors,
      union: { description: "The connector, or ValidationError or NotFoundError." },
    },
    args: {
      input: t.arg({
        description: "The connector's name, app, environment and credential.",
        type: CreateConnectorInput,
        required: true,
      }),
    },
    resolve: async (_root, { input }, context) => {
      const environmentId = input.environmentId
        ? rawIdOf(String(input.environmentId), "Environment", ["environmentId"])
        : null;
      const credentialId = credentialRawId(input.credentialId, ["credentialId"]);
      const connector = await createConnector(context, callerOf(context), {
        name: input.name,
        appKey: input.appKey,
        environmentId,
        credentialId,
      });
      return { connector };
    },
  }),
);

const UpdateConnectorInput = builder.inputType("UpdateConnectorInput", {
  description: "Omitted fields stay as they are.",
  fields: (t) => ({
    id: t.id({ description: "The connector's global id.", required: true }),
    name: t.string({ description: "New display name." }),
    credentialId: t.id({
      description:
        "Switch to another credential of the same environment; a NEEDS_CREDENTIAL connector becomes ACTIVE.",
    }),
    status: t.field({ type: ConnectorStatusEnum, description: "ACTIVE (resume) or PAUSED." }),
  }),
});

builder.mutationField("updateConnector", (t) =>
  t.field({
    description:
      "Renames a connector, pauses or resumes it, or switches its credential. Returns ValidationError or NotFoundError.",
    type: ConnectorSuccess("UpdateConnectorSuccess"),
    authScopes: connectorsWrite,
    errors: {
      types: commonErrors,
      union: { description: "The connector, or ValidationError or NotFoundError." },
    },
    args: {
      input: t.arg({
        description: "The connector's id and the fields to change.",
        type: UpdateConnectorInput,
        required: true,
      }),
    },
    resolve: async (_root, { input }, context) => {
      const id = rawIdOf(String(input.id), "Connector", ["id"]);
      const credentialId =
        input.credentialId == null
          ? input.credentialId
          : credentialRawId(input.credentialId, ["credentialId"]);
      const connector = await updateConnector(context, callerOf(context), id, {
        name: input.name,
        status: input.status,
        credentialId,
      });
      return { connector };
    },
  }),
);

const DeleteConnectorInput = builder.inputType("DeleteConnectorInput", {
  description: "Which connector to delete.",
  fields: (t) => ({ id: t.id({ required: true, description: "The connector's global id." }) }),
});

const DeleteConnectorSuccess = builder
  .objectRef<{ deletedConnectorId: string }>("DeleteConnectorSuccess")
  .implement({
    description: "The connector is deleted; its credential stays.",
    authScopes: connectorsWrite,
    fields: (t) => ({
      deletedConnectorId: t.exposeID("deletedConnectorId", {
        description: "The id the connector had; remove it from client caches.",
      }),
    }),
  });

builder.mutationField("deleteConnector", (t) =>
  t.field({
    description:
      "Deletes a connector; its credential is not touched. Returns NotFoundError for an unknown id.",
    type: DeleteConnectorSuccess,
    authScopes: connectorsWrite,
    errors: {
      types: commonErrors,
      union: { description: "The deleted id, or NotFoundError or ValidationError." },
    },
    args: {
      input: t.arg({
        description: "The connector's id.",
        type: DeleteConnectorInput,
        required: true,
      }),
    },
    resolve: async (_root, { input }, context) => {
      const id = rawIdOf(String(input.id), "Connector", ["id"]);
      const deleted = await deleteConnector(context, callerOf(context), id);
      return { deletedConnectorId: connectorGlobalId(deleted.id) };
    },
  }),
);
