// Credential operations the integration tests send, typed by graphql-codegen.
import { graphql } from "../generated/index.js";

export const CredentialFieldsFragment = graphql(`
  fragment CredentialFields on CredentialBase {
    __typename
    id
    name
    description
    kind
    status
    statusReason {
      code
      message
    }
    providerKey
    externalUserId
    createdAt
    updatedAt
    lastUsedAt
    environment {
      id
      slug
    }
    ... on BasicCredential {
      username
      host
      port
      database
      password {
        isSet
        preview
        fingerprint
        value
      }
    }
    ... on BearerCredential {
      placement
      headerName
      scheme
      queryParameter
      expiresAt
      token {
        isSet
        preview
        fingerprint
        value
      }
      refreshToken {
        isSet
        preview
        value
      }
      refreshRequest {
        endpoint
        method
        accessTokenPath
      }
    }
    ... on OAuth2Credential {
      clientId
      issuer
      authorizationUrl
      tokenUrl
      revocationUrl
      scopes
      grantedScopes
      missingScopes
      extraAuthorizationParams
      usePkce
      tokenEndpointAuthMethod
      audience
      accountId
      expiresAt
      clientSecret {
        isSet
        preview
        fingerprint
        value
      }
      accessToken {
        isSet
        preview
        value
      }
      refreshToken {
        isSet
        preview
        value
      }
    }
    ... on ClientCredentialsCredential {
      clientId
      clientTokenUrl: tokenUrl
      scopes
      audience
      tokenEndpointAuthMethod
      expiresAt
      clientSecret {
        isSet
        preview
        fingerprint
        value
      }
      accessToken {
        isSet
        value
      }
    }
  }
`);

export const CreateCredentialMutation = graphql(`
  mutation CreateCredential($input: CreateCredentialInput!) {
    createCredential(input: $input) {
      __typename
      ... on CreateCredentialSuccess {
        credential {
          ...CredentialFields
        }
      }
      ...ErrorFields
    }
  }
`);

export const UpdateCredentialMutation = graphql(`
  mutation UpdateCredential($input: UpdateCredentialInput!) {
    updateCredential(input: $input) {
      __typename
      ... on UpdateCredentialSuccess {
        credential {
          ...CredentialFields
        }
      }
      ...ErrorFields
    }
  }
`);

export const DeleteCredentialMutation = graphql(`
  mutation DeleteCredential($input: DeleteCredentialInput!) {
    deleteCredential(input: $input) {
      __typename
      ... on DeleteCredentialSuccess {
        deletedCredentialId
      }
      ...ErrorFields
    }
  }
`);

export const RotateCredentialMutation = graphql(`
  mutation RotateCredential($input: RotateCredentialInput!) {
    rotateCredential(input: $input) {
      __typename
      ... on RotateCredentialSuccess {
        credential {
          ...CredentialFields
        }
      }
      ...ErrorFields
    }
  }
`);

export const AcquireHeadersMutation = graphql(`
  mutation AcquireHeaders($input: AcquireCredentialHeadersInput!) {
    acquireCredentialHeaders(input: $input) {
      __typename
      ... on AcquireCredentialHeadersSuccess {
        headers {
          name
          value
        }
        queryParameters {
          name
          value
        }
        pathParameters {
          name
          value
        }
        expiresAt
      }
      ...ErrorFields
    }
  }
`);

export const CredentialQuery = graphql(`
  query Credential($id: ID!) {
    credential(id: $id) {
      ...CredentialFields
    }
  }
`);

export const CredentialsQuery = graphql(`
  query Credentials($first: Int, $after: String, $filter: CredentialFilter) {
    credentials(first: $first, after: $after, filter: $filter) {
      edges {
        cursor
        node {
          ...CredentialFields
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const CredentialListQuery = graphql(`
  query CredentialList($first: Int, $after: String) {
    credentials(first: $first, after: $after) {
      edges {
        node {
          id
          name
          kind
          providerKey
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
`);

export const RewrapSecretsMutation = graphql(`
  mutation RewrapSecrets($input: RewrapSecretsInput!) {
    rewrapSecrets(input: $input) {
      __typename
      ... on RewrapSecretsSuccess {
        rewrapped
        remaining
        activeKeyId
      }
      ...ErrorFields
    }
  }
`);

export const NodeQueryCredential = graphql(`
  query NodeCredential($id: ID!) {
    node(id: $id) {
      __typename
      id
      ... on CredentialBase {
        name
        kind
      }
    }
  }
`);
