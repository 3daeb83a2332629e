// Provider catalog operations the integration tests send, typed by graphql-codegen.
import { graphql } from "../generated/index.js";

export const ProvidersQuery = graphql(`
  query Providers($filter: ProvidersFilter) {
    providers(filter: $filter) {
      key
      name
      authKinds
      docsUrl
      verifiable
      scopes {
        default
        required
        separator
      }
      fields {
        name
        label
        type
        secret
        pattern
        required
        example
        location
      }
    }
  }
`);

export const ProviderQuery = graphql(`
  query Provider($key: String!, $authKind: CredentialKind) {
    provider(key: $key) {
      key
      name
      authKinds
      connectionVariables {
        name
        required
        pattern
      }
      fields(authKind: $authKind) {
        name
        label
        secret
        required
        location
      }
      authMethods {
        kind
        tokenUrl
        usePkce
        refreshTokensSingleUse
        tokensExpire
        placement {
          placement
          headerName
          scheme
        }
      }
    }
  }
`);

export const CreateProviderCredentialMutation = graphql(`
  mutation CreateProviderCredential($input: CreateCredentialInput!) {
    createCredential(input: $input) {
      __typename
      ... on CreateCredentialSuccess {
        credential {
          ... on CredentialBase {
            id
            status
            providerKey
            connectionConfig
            lastVerifiedAt
            provider {
              key
              name
            }
          }
          ... on BasicCredential {
            username
          }
          ... on BearerCredential {
            placement
            headerName
            scheme
          }
          ... on OAuth2Credential {
            authorizationUrl
            tokenUrl
            scopes
            grantedScopes
            missingScopes
            usePkce
            extraAuthorizationParams
            accountId
          }
        }
      }
      ...ErrorFields
    }
  }
`);

export const TestCredentialMutation = graphql(`
  mutation TestCredential($input: TestCredentialInput!) {
    testCredential(input: $input) {
      __typename
      ... on TestCredentialSuccess {
        credentialId
        verifiedAt
      }
      ...ErrorFields
    }
  }
`);

export const ProviderCredentialQuery = graphql(`
  query ProviderCredential($id: ID!) {
    credential(id: $id) {
      ... on CredentialBase {
        id
        status
        statusReason {
          code
          message
        }
        lastVerifiedAt
        history(first: 20) {
          edges {
            node {
              type
              status
              reason {
                code
              }
              attempt {
                action
                outcome
                httpStatus
              }
            }
          }
        }
      }
      ... on OAuth2Credential {
        scopes
        grantedScopes
        missingScopes
        accountId
        providerData
      }
    }
  }
`);
