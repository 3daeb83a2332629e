// The error fields every test document selects from a mutation's typed errors. Spread
// `...ErrorFields` in a payload selection instead of repeating the per-type fields; the
// client preset resolves the fragment by name from any document file. The rollback error's
// enum `reason` is aliased: it cannot share a response name with CredentialNotUsableError's
// object `reason` in one selection.
import { graphql } from "../generated/index.js";

export const ErrorFieldsFragment = graphql(`
  fragment ErrorFields on Error {
    __typename
    message
    ... on ValidationError {
      fieldErrors {
        path
        message
      }
    }
    ... on CredentialProviderError {
      code
    }
    ... on CredentialVerificationError {
      code
      httpStatus
    }
    ... on CredentialNotUsableError {
      status
      reason {
        code
        message
      }
    }
    ... on CredentialInUseError {
      connectorIds
    }
    ... on RotationRollbackUnavailableError {
      rollbackReason: reason
      expiredAt
    }
  }
`);
