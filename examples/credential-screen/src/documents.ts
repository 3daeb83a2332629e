// Every operation the screen sends. `npm run example:generate` turns each into a typed document
// (src/gql/), so a result's shape follows the schema and the selection.
import { graphql } from "./gql/index.js";

export const CredentialFieldsFragment = graphql(`
  fragment ScreenCredential on CredentialBase {
    id
    name
    kind
    status
    statusReason {
      code
      message
    }
    providerKey
    externalUserId
    updatedAt
    ... on OAuth2Credential {
      grantedScopes
      missingScopes
      accountId
    }
  }
`);

export const ViewerQuery = graphql(`
  query ScreenViewer {
    viewer {
      subject
      scopes
      # What a connect token is limited to; null for API keys.
      connectSession {
        externalUserId
        providerKeys
        expiresAt
        environment {
          slug
        }
      }
    }
  }
`);

export const CredentialsQuery = graphql(`
  query ScreenCredentials {
    credentials(first: 100) {
      edges {
        node {
          ...ScreenCredential
        }
      }
    }
  }
`);

export const CredentialQuery = graphql(`
  query ScreenCredential($id: ID!) {
    credential(id: $id) {
      ...ScreenCredential
    }
  }
`);

export const CreateCredentialMutation = graphql(`
  mutation ScreenCreateCredential($input: CreateCredentialInput!) {
    createCredential(input: $input) {
      __typename
      ... on CreateCredentialSuccess {
        credential {
          ...ScreenCredential
        }
      }
      ... on CredentialProviderError {
        code
      }
      ... on ValidationError {
        fieldErrors {
          path
          message
        }
      }
      ... on Error {
        message
      }
    }
  }
`);

export const AuthorizeCredentialMutation = graphql(`
  mutation ScreenAuthorizeCredential($input: AuthorizeCredentialInput!) {
    authorizeCredential(input: $input) {
      __typename
      ... on AuthorizeCredentialSuccess {
        authorizationUrl
      }
      ... on CredentialProviderError {
        code
      }
      ... on Error {
        message
      }
    }
  }
`);

export const DeleteCredentialMutation = graphql(`
  mutation ScreenDeleteCredential($input: DeleteCredentialInput!) {
    deleteCredential(input: $input) {
      __typename
      ... on DeleteCredentialSuccess {
        deletedCredentialId
      }
      ... on Error {
        message
      }
    }
  }
`);

export const CredentialEventsSubscription = graphql(`
  subscription ScreenCredentialEvents {
    credentialEvents {
      id
      type
      status
      occurredAt
      credential {
        ...ScreenCredential
      }
    }
  }
`);

export const ProvidersQuery = graphql(`
  query ScreenProviders {
    providers {
      key
      name
      authKinds
    }
  }
`);

export const ProviderFormQuery = graphql(`
  query ScreenProviderForm($key: String!, $authKind: CredentialKind) {
    provider(key: $key) {
      key
      name
      fields(authKind: $authKind) {
        name
        label
        type
        secret
        pattern
        required
        example
        description
        location
      }
    }
  }
`);
