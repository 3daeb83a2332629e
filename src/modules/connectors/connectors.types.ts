// GraphQL types of connectors: Connector (a Node), its connection, the enum, the error that
// protects a credential in use, and Credential.connectors.
import { encodeGlobalID } from "@pothos/plugin-relay";
import { builder } from "../../builder.js";
import { ErrorInterface } from "../common/errors.types.js";
import { registerNodeLoader } from "../common/nodes.js";
import { CredentialInUseError } from "../credentials/credentials.errors.js";
import { DeleteCredentialSuccess } from "../credentials/credentials.mutations.js";
import { CredentialBaseRef, credentialGlobalId } from "../credentials/credentials.types.js";
import { connectorScope } from "./connectors.service.js";

/** Reading connectors: what `connector(id)` requires, on every path to a connector. */
export const connectorsRead = { scope: "connectors:read" } as const;
export const connectorsWrite = { scope: "connectors:write" } as const;

export const ConnectorStatusEnum = builder.enumType("ConnectorStatus", {
  values: {
    ACTIVE: { description: "Has a credential and runs." },
    PAUSED: { description: "Stopped on purpose; keeps its credential." },
    NEEDS_CREDENTIAL: {
      description: "Its credential was deleted (with force); give it another with updateConnector.",
    },
  } as const,
});

export const connectorGlobalId = (id: string) => encodeGlobalID("Connector", id);

export const ConnectorRef = builder.prismaNode("Connector", {
  id: { field: "id" },
  description: "An integration that calls an app or provider with one credential.",
  authScopes: connectorsRead,
  fields: (t) => ({
    name: t.exposeString("name"),
    appKey: t.exposeString("appKey", { description: "The app or provider it talks to." }),
    status: t.expose("status", { type: ConnectorStatusEnum }),
    environment: t.relation("environment"),
    credentialId: t.field({
      type: "ID",
      nullable: true,
      description:
        "The id of its credential; null when it needs one. Shown with connectors:read alone.",
      select: { credential: { select: { id: true, kind: true } } },
      resolve: (connector) =>
        connector.credential ? credentialGlobalId(connector.credential) : null,
    }),
    credential: t.relation("credential", {
      type: CredentialBaseRef,
      nullable: true,
      description:
        "Its credential; needs credentials:read as well (null without it: use credentialId). Null when it needs a credential.",
      authScopes: { scope: "credentials:read" },
      unauthorizedResolver: () => null,
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});

export const ConnectorConnectionRef = builder.connectionObject(
  { type: ConnectorRef, name: "ConnectorConnection", authScopes: connectorsRead },
  { name: "ConnectorEdge", authScopes: connectorsRead },
);

registerNodeLoader(
  "Connector",
  (id, context) =>
    context.caller
      ? context.prisma.connector.findFirst({ where: { id, ...connectorScope(context.caller) } })
      : Promise.resolve(null),
  connectorsRead.scope,
);

builder.prismaInterfaceField(CredentialBaseRef, "connectors", (t) =>
  t.relatedConnection(
    "connectors",
    {
      type: ConnectorRef,
      description: "The connectors using this credential, oldest first. Needs connectors:read.",
      authScopes: connectorsRead,
      cursor: "id",
      query: { orderBy: { id: "asc" } },
      maxSize: 100,
      defaultSize: 20,
    },
    ConnectorConnectionRef,
  ),
);

builder.objectType(CredentialInUseError, {
  name: "CredentialInUseError",
  description:
    "Connectors use the credential; nothing was deleted. Delete with force: true to leave them NEEDS_CREDENTIAL.",
  authScopes: { authenticated: true },
  interfaces: [ErrorInterface],
  fields: (t) => ({
    connectorIds: t.idList({
      description: "The connectors' ids (shown without connectors:read).",
      resolve: (error) => error.connectors.map((connector) => connectorGlobalId(connector.id)),
    }),
    connectors: t.field({
      type: [ConnectorRef],
      description: "The connectors using the credential; needs connectors:read.",
      resolve: (error) => error.connectors as never,
    }),
  }),
});

builder.objectField(DeleteCredentialSuccess, "detachedConnectors", (t) =>
  t.field({
    type: [ConnectorRef],
    description: "The same connectors, now NEEDS_CREDENTIAL; needs connectors:read.",
    resolve: (result) => result.detachedConnectors as never,
  }),
);
