// The GraphiQL playground served on GET /graphql (text/html) outside production. Everything it
// needs (scripts, styles, editor workers, icon) is inlined in the page: it makes no request but
// to keyport itself, so it works on a machine without internet.
import type { GraphiQLOptions } from "graphql-yoga";

/** The document the playground opens with: runnable once the Authorization header is set. */
export const playgroundDocument = `# Welcome to the keyport playground.
#
# Every request needs an API key. Open the "Headers" tab
# below the editor and set
#
#   { "Authorization": "Bearer <key>" }
#
# The admin key is printed once, on the first start.
# Headers are not saved in this browser: set the header
# again after a reload.
#
# Then run this query (the play button, or Ctrl+Enter).

query Playground {
  viewer {
    scopes
    workspace {
      slug
      name
    }
  }
  credentials(first: 10) {
    edges {
      node {
        id
        name
        kind
        status
        providerKey
      }
    }
  }
}

# Ready-to-use auth headers for one credential: uncomment
# this mutation, put a credential id from the result above
# in it, and run it. The headers it returns are secrets:
# do not share or log them.
#
# mutation AcquireHeaders {
#   acquireCredentialHeaders(
#     input: { credentialId: "<credential id>" }
#   ) {
#     __typename
#     ... on AcquireCredentialHeadersSuccess {
#       expiresAt
#       headers {
#         name
#         value
#       }
#     }
#     ... on Error {
#       message
#     }
#   }
# }
`;

export const playgroundOptions: GraphiQLOptions = {
  title: "keyport playground",
  defaultQuery: playgroundDocument,
  // The header carries an API key (often the admin key): never written to localStorage.
  shouldPersistHeaders: false,
  defaultEditorToolsVisibility: "headers",
  subscriptionsProtocol: "SSE",
};

// GraphiQL keeps its tabs (and its history) in localStorage, each tab with the last response:
// an `acquireCredentialHeaders` result holds a credential's secrets. This runs before GraphiQL
// and blanks headers and responses in whatever GraphiQL writes there, and never writes the
// headers editor itself, whatever a setting says.
const storageGuard = `<script>
(function () {
  var setItem = Storage.prototype.setItem;
  var withSecrets = ["graphiql:tabState", "graphiql:queries", "graphiql:favorites"];
  Storage.prototype.setItem = function (key, value) {
    if (this === window.localStorage && typeof key === "string") {
      if (key === "graphiql:headers") return;
      if (withSecrets.indexOf(key) !== -1) {
        try {
          value = JSON.stringify(JSON.parse(value), function (name, v) {
            return name === "headers" || name === "response" ? null : v;
          });
        } catch (error) {
          return;
        }
      }
    }
    return setItem.call(this, key, value);
  };
})();
</script>`;

const pages = new Map<string, Promise<string>>();

/** Renders the self-contained GraphiQL page. The renderer (several megabytes of inlined
 * scripts) is loaded on the first request only, and each set of options is rendered once. */
export function renderPlayground(options: GraphiQLOptions): Promise<string> {
  const key = JSON.stringify(options);
  let page = pages.get(key);
  if (!page) {
    page = import("@graphql-yoga/render-graphiql").then(({ renderGraphiQL }) => {
      const html = renderGraphiQL(options);
      if (!html.includes("<title>")) throw new Error("GraphiQL page without a <title>");
      return html.replace("<title>", `${storageGuard}<title>`);
    });
    pages.set(key, page);
  }
  return page;
}
