// Rotation and rollback operations the integration tests send, typed by graphql-codegen.
// They select no secret value: responses must never carry one.
import { graphql } from "../generated/index.js";

export const RotationRotateMutation = graphql(`
  mutation RotationRotate($input: RotateCredentialInput!) {
    rotateCredential(input: $input) {
      __typename
      ... on RotateCredentialSuccess {
        credentialId
        previousSecretExpiresAt
        credential {
          ... on CredentialBase {
            id
            status
            previousSecretExpiresAt
          }
        }
      }
      ...ErrorFields
    }
  }
`);

export const RotationRollbackMutation = graphql(`
  mutation RotationRollback($input: RollbackCredentialRotationInput!) {
    rollbackCredentialRotation(input: $input) {
      __typename
      ... on RollbackCredentialRotationSuccess {
        credentialId
        previousSecretExpiresAt
        credential {
          ... on CredentialBase {
            id
            status
            previousSecretExpiresAt
          }
        }
      }
      ...ErrorFields
    }
  }
`);

export const RotationCredentialQuery = graphql(`
  query RotationCredential($id: ID!) {
    credential(id: $id) {
      ... on CredentialBase {
        id
        status
        previousSecretExpiresAt
      }
      ... on BasicCredential {
        password {
          preview
          fingerprint
        }
      }
      ... on BearerCredential {
        token {
          preview
          fingerprint
        }
      }
      ... on ClientCredentialsCredential {
        clientSecret {
          preview
          fingerprint
        }
        expiresAt
      }
    }
  }
`);
