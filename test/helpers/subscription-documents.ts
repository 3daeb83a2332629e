// Subscription operations the integration tests send, typed by graphql-codegen.
import { graphql } from "../generated/index.js";

export const CredentialEventsSubscription = graphql(`
  subscription CredentialEvents($filter: CredentialEventsFilter) {
    credentialEvents(filter: $filter) {
      id
      type
      status
      occurredAt
      reason {
        code
        message
      }
      credential {
        __typename
        ... on CredentialBase {
          id
        }
      }
      dependentConnectors {
        id
        name
      }
    }
  }
`);

/** Only ids: what the high-volume tests need. */
export const CredentialEventIdsSubscription = graphql(`
  subscription CredentialEventIds($filter: CredentialEventsFilter) {
    credentialEvents(filter: $filter) {
      id
    }
  }
`);

/** The snapshot of dependents makes every event a few kilobytes (slow-consumer test). */
export const CredentialEventDependentsSubscription = graphql(`
  subscription CredentialEventDependents {
    credentialEvents {
      id
      dependents {
        id
        name
      }
    }
  }
`);

export const CredentialInvalidatedSubscription = graphql(`
  subscription CredentialInvalidated($environmentId: ID, $after: ID) {
    credentialInvalidated(environmentId: $environmentId, after: $after) {
      id
      type
      status
      reason {
        code
        message
      }
      credential {
        __typename
        ... on CredentialBase {
          id
        }
      }
      dependentConnectors {
        id
        name
        status
      }
    }
  }
`);

export const ConnectorCredentialStatusSubscription = graphql(`
  subscription ConnectorCredentialStatus($connectorId: ID!, $after: ID) {
    connectorCredentialStatus(connectorId: $connectorId, after: $after) {
      id
      type
      status
      credential {
        __typename
        ... on CredentialBase {
          id
        }
      }
    }
  }
`);

export const UpdateConnectorStatusMutation = graphql(`
  mutation UpdateConnectorStatus($input: UpdateConnectorInput!) {
    updateConnector(input: $input) {
      __typename
      ... on UpdateConnectorSuccess {
        connector {
          id
          status
        }
      }
      ...ErrorFields
    }
  }
`);
