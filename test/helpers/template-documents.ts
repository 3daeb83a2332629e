import { graphql } from "../generated/index.js";

// Bearer credentials whose token comes from a configured token request (refreshRequest).
export const TemplateCredentialFragment = graphql(`
  fragment TemplateCredentialFields on BearerCredential {
    id
    status
    statusReason {
      code
      message
    }
    expiresAt
    clientId
    clientSecret {
      isSet
      preview
    }
    refreshToken {
      isSet
      preview
    }
    refreshRequest {
      endpoint
      method
      headers {
        name
        value
      }
      body
      accessTokenPath
      refreshTokenPath
      expiresInPath
      expiresAtPath
      accessTokenDurationMinutes
    }
  }
`);

export const CreateTemplateCredentialMutation = graphql(`
  mutation CreateTemplateCredential($input: CreateCredentialInput!) {
    createCredential(input: $input) {
      __typename
      ... on CreateCredentialSuccess {
        credential {
          ... on BearerCredential {
            ...TemplateCredentialFields
          }
        }
      }
      ...ErrorFields
    }
  }
`);

export const UpdateTemplateCredentialMutation = graphql(`
  mutation UpdateTemplateCredential($input: UpdateCredentialInput!) {
    updateCredential(input: $input) {
      __typename
      ... on UpdateCredentialSuccess {
        credential {
          ... on BearerCredential {
            ...TemplateCredentialFields
          }
        }
      }
      ...ErrorFields
    }
  }
`);

export const TemplateCredentialQuery = graphql(`
  query TemplateCredential($id: ID!) {
    credential(id: $id) {
      ... on BearerCredential {
        ...TemplateCredentialFields
        history(first: 50) {
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
                durationMs
                httpStatus
                errorCode
                updatedFields
              }
            }
          }
        }
      }
    }
  }
`);
