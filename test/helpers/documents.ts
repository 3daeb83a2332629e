// Operations the integration tests send, typed by graphql-codegen from schema.graphql.
import { graphql } from "../generated/index.js";

export const ViewerQuery = graphql(`
  query Viewer {
    viewer {
      subject
      scopes
      workspace {
        id
        slug
        name
        environments {
          id
          slug
          name
        }
      }
    }
  }
`);

export const NodeQuery = graphql(`
  query Node($id: ID!) {
    node(id: $id) {
      __typename
      id
      ... on Workspace {
        slug
      }
      ... on Environment {
        slug
      }
      ... on ApiKey {
        name
        scopes
      }
    }
  }
`);

export const ApiKeysQuery = graphql(`
  query ApiKeys($first: Int, $after: String) {
    viewer {
      workspace {
        apiKeys(first: $first, after: $after) {
          edges {
            cursor
            node {
              id
              name
              prefix
              scopes
              lastUsedAt
              revokedAt
              environment {
                slug
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

export const CreateApiKeyMutation = graphql(`
  mutation CreateApiKey($input: CreateApiKeyInput!) {
    createApiKey(input: $input) {
      __typename
      ... on CreateApiKeySuccess {
        key
        apiKey {
          id
          name
          prefix
          scopes
          environment {
            slug
          }
        }
      }
      ...ErrorFields
    }
  }
`);

export const RevokeApiKeyMutation = graphql(`
  mutation RevokeApiKey($input: RevokeApiKeyInput!) {
    revokeApiKey(input: $input) {
      __typename
      ... on RevokeApiKeySuccess {
        apiKey {
          id
          revokedAt
        }
      }
      ...ErrorFields
    }
  }
`);

export const CreateWorkspaceMutation = graphql(`
  mutation CreateWorkspace($input: CreateWorkspaceInput!) {
    createWorkspace(input: $input) {
      __typename
      ... on CreateWorkspaceSuccess {
        adminApiKey
        workspace {
          id
          slug
          name
          environments {
            slug
          }
        }
      }
      ...ErrorFields
    }
  }
`);

export const CreateEnvironmentMutation = graphql(`
  mutation CreateEnvironment($input: CreateEnvironmentInput!) {
    createEnvironment(input: $input) {
      __typename
      ... on CreateEnvironmentSuccess {
        environment {
          id
          slug
          name
        }
      }
      ...ErrorFields
    }
  }
`);
