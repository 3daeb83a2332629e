// Connector and credential-event operations the integration tests send, typed by graphql-codegen.
import { graphql } from "../generated/index.js";

export const ConnectorFieldsFragment = graphql(`
  fragment ConnectorFields on Connector {
    __typename
    id
    name
    appKey
    status
    credentialId
    createdAt
    updatedAt
    environment {
      id
      slug
    }
    credential {
      __typename
      id
      name
    }
  }
`);

export const CreateConnectorMutation = graphql(`
  mutation CreateConnector($input: CreateConnectorInput!) {
    createConnector(input: $input) {
      __typename
      ... on CreateConnectorSuccess {
        connectorId
        connector {
          ...ConnectorFields
        }
      }
      ...ErrorFields
    }
  }
`);

export const CreateConnectorIdOnlyMutation = graphql(`
  mutation CreateConnectorIdOnly($input: CreateConnectorInput!) {
    createConnector(input: $input) {
      __typename
      ... on CreateConnectorSuccess {
        connectorId
      }
      ...ErrorFields
    }
  }
`);

export const UpdateConnectorMutation = graphql(`
  mutation UpdateConnector($input: UpdateConnectorInput!) {
    updateConnector(input: $input) {
      __typename
      ... on UpdateConnectorSuccess {
        connector {
          ...ConnectorFields
        }
      }
      ...ErrorFields
    }
  }
`);

export const DeleteConnectorMutation = graphql(`
  mutation DeleteConnector($input: DeleteConnectorInput!) {
    deleteConnector(input: $input) {
      __typename
      ... on DeleteConnectorSuccess {
        deletedConnectorId
      }
      ...ErrorFields
    }
  }
`);

export const ConnectorQuery = graphql(`
  query Connector($id: ID!) {
    connector(id: $id) {
      ...ConnectorFields
    }
  }
`);

export const ConnectorNodeQuery = graphql(`
  query ConnectorNode($id: ID!) {
    node(id: $id) {
      __typename
      id
      ... on Connector {
        name
        status
      }
    }
  }
`);

export const ConnectorsQuery = graphql(`
  query Connectors($first: Int, $after: String, $filter: ConnectorFilter) {
    connectors(first: $first, after: $after, filter: $filter) {
      edges {
        cursor
        node {
          ...ConnectorFields
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const ConnectorNamesQuery = graphql(`
  query ConnectorNames($first: Int, $after: String, $filter: ConnectorFilter) {
    connectors(first: $first, after: $after, filter: $filter) {
      edges {
        node {
          id
          name
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const ConnectorsWithCredentialQuery = graphql(`
  query ConnectorsWithCredential($first: Int) {
    connectors(first: $first) {
      edges {
        node {
          id
          name
          status
          environment {
            slug
          }
          credential {
            __typename
            id
            name
            status
            environment {
              slug
            }
          }
        }
      }
    }
  }
`);

export const CredentialsWithConnectorsQuery = graphql(`
  query CredentialsWithConnectors($first: Int) {
    credentials(first: $first) {
      edges {
        node {
          id
          name
          connectors(first: 5) {
            edges {
              node {
                id
                name
                status
              }
            }
          }
        }
      }
    }
  }
`);

export const CredentialConnectorsQuery = graphql(`
  query CredentialConnectors($id: ID!, $first: Int, $after: String) {
    credential(id: $id) {
      ... on CredentialBase {
        id
        connectors(first: $first, after: $after) {
          edges {
            node {
              id
              name
            }
          }
          pageInfo {
            hasNextPage
            endCursor
          }
        }
      }
    }
  }
`);

export const DeleteCredentialWithConnectorsMutation = graphql(`
  mutation DeleteCredentialWithConnectors($input: DeleteCredentialInput!) {
    deleteCredential(input: $input) {
      __typename
      ... on DeleteCredentialSuccess {
        deletedCredentialId
        detachedConnectorIds
        detachedConnectors {
          id
          name
          status
          credentialId
        }
      }
      ... on CredentialInUseError {
        connectors {
          id
          name
          status
        }
      }
      ...ErrorFields
    }
  }
`);

export const CredentialHistoryQuery = graphql(`
  query CredentialHistory($id: ID!, $first: Int, $after: String) {
    credential(id: $id) {
      ... on CredentialBase {
        id
        status
        history(first: $first, after: $after) {
          edges {
            cursor
            node {
              id
              type
              status
              occurredAt
              reason {
                code
                message
              }
              attempt {
                action
                outcome
              }
              credential {
                __typename
              }
              dependentConnectors {
                id
                name
              }
              dependents {
                id
                name
              }
            }
          }
          pageInfo {
            hasNextPage
            endCursor
          }
        }
      }
    }
  }
`);
