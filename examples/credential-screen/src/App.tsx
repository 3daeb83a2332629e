// A credential screen for one end user, driven by a connect token: the user's credentials with
// their live status, a form per catalog provider the session allows (built from
// `provider(key).fields`) plus the kind forms as "Custom" when the session is not limited to
// providers, and OAuth sign-in in a popup.
import { type FormEvent, useCallback, useEffect, useMemo, useState } from "react";
import { createKeyportClient, GraphQLRequestError, type KeyportClient } from "./client.js";
import {
  AuthorizeCredentialMutation,
  CreateCredentialMutation,
  CredentialEventsSubscription,
  CredentialQuery,
  CredentialsQuery,
  DeleteCredentialMutation,
  ProviderFormQuery,
  ProvidersQuery,
  ViewerQuery,
} from "./documents.js";
import {
  buildCreateInput,
  type FieldSpec,
  type FormSpec,
  FormValueError,
  type FormValues,
  fieldKey,
  kindForms,
  providerForm,
} from "./forms.js";
import type { CredentialKind, ScreenCredentialFragment, ScreenViewerQuery } from "./gql/graphql.js";
import { authorizeInPopup, OAuthPopupError } from "./oauth-popup.js";
import { defaultKeyportUrl, type Session, takeSessionFromFragment } from "./session.js";

type Credential = ScreenCredentialFragment;
type Notice = { tone: "error" | "info"; text: string; reason?: string };

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

export function App() {
  const [session, setSession] = useState<Session | null>(() => takeSessionFromFragment());
  if (!session) return <SessionForm onSubmit={setSession} />;
  return <Screen session={session} onSignOut={() => setSession(null)} />;
}

function SessionForm({ onSubmit }: { onSubmit: (session: Session) => void }) {
  const [keyportUrl, setKeyportUrl] = useState(defaultKeyportUrl());
  const [token, setToken] = useState("");
  return (
    <main className="narrow">
      <h1>Connected accounts</h1>
      <p>Paste the connect token your backend created with createConnectSession.</p>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (token.trim()) onSubmit({ keyportUrl: keyportUrl.trim(), token: token.trim() });
        }}
      >
        <label>
          keyport URL
          <input
            name="keyportUrl"
            value={keyportUrl}
            onChange={(event) => setKeyportUrl(event.target.value)}
          />
        </label>
        <label>
          Connect token
          <input
            name="token"
            type="password"
            autoComplete="off"
            value={token}
            onChange={(event) => setToken(event.target.value)}
          />
        </label>
        <button type="submit">Open</button>
      </form>
    </main>
  );
}

function Screen({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const client = useMemo(() => createKeyportClient(session.keyportUrl, session.token), [session]);
  useEffect(() => () => client.dispose(), [client]);

  const [viewer, setViewer] = useState<ScreenViewerQuery["viewer"] | null>(null);
  const [credentials, setCredentials] = useState<Credential[] | null>(null);
  const [live, setLive] = useState(false);
  const [notice, setNotice] = useState<Notice | null>(null);
  const [events, setEvents] = useState<string[]>([]);

  const upsert = useCallback((credential: Credential) => {
    setCredentials((list) => {
      const current = list ?? [];
      return current.some((c) => c.id === credential.id)
        ? current.map((c) => (c.id === credential.id ? credential : c))
        : [...current, credential];
    });
  }, []);

  const reload = useCallback(async () => {
    const data = await client.request(CredentialsQuery, {});
    setCredentials(data.credentials.edges.map((edge) => edge.node));
  }, [client]);

  useEffect(() => {
    client.request(ViewerQuery, {}).then(
      (data) => setViewer(data.viewer),
      (error) => setNotice({ tone: "error", text: messageOf(error) }),
    );
    reload().catch((error) => setNotice({ tone: "error", text: messageOf(error) }));
  }, [client, reload]);

  // Live status: every credential event carries the credential as it is now. A DELETED event
  // has no credential any more, so the list is read again.
  useEffect(() => {
    const offLive = client.onLive((isLive) => {
      setLive(isLive);
      // Whatever happened while disconnected: read the list again.
      if (isLive) reload().catch(() => {});
    });
    const unsubscribe = client.subscribe(
      CredentialEventsSubscription,
      {},
      ({ credentialEvents: event }) => {
        setEvents((list) => [`${event.type} → ${event.status}`, ...list].slice(0, 8));
        if (event.credential) upsert(event.credential);
        else reload().catch(() => {});
      },
      (error) => setNotice({ tone: "error", text: `Live updates stopped: ${messageOf(error)}` }),
    );
    return () => {
      unsubscribe();
      offLive();
    };
  }, [client, reload, upsert]);

  // Must run inside the click handler, before anything is awaited (popup blockers).
  const connect = (credential: Credential) => {
    setNotice({ tone: "info", text: `Signing in to ${credential.name}…` });
    authorizeInPopup({
      keyportUrl: session.keyportUrl,
      start: async (openerOrigin) => {
        const { authorizeCredential: result } = await client.request(AuthorizeCredentialMutation, {
          input: { id: credential.id, openerOrigin },
        });
        if (result.__typename !== "AuthorizeCredentialSuccess") throw new Error(result.message);
        return result;
      },
      load: async (id) => {
        const { credential: loaded } = await client.request(CredentialQuery, { id });
        if (!loaded) throw new Error("The credential is gone.");
        return loaded;
      },
    }).then(
      (authorized) => {
        upsert(authorized);
        setNotice({ tone: "info", text: `${authorized.name} is connected.` });
      },
      (error: unknown) => {
        const reason = error instanceof OAuthPopupError ? error.reason : "failed";
        setNotice({ tone: "error", text: messageOf(error), reason });
      },
    );
  };

  const remove = async (credential: Credential) => {
    try {
      const { deleteCredential: result } = await client.request(DeleteCredentialMutation, {
        input: { id: credential.id },
      });
      if (result.__typename !== "DeleteCredentialSuccess") throw new Error(result.message);
      setCredentials((list) => (list ?? []).filter((c) => c.id !== credential.id));
    } catch (error) {
      setNotice({ tone: "error", text: messageOf(error) });
    }
  };

  return (
    <main>
      <header>
        <h1>Connected accounts</h1>
        <span className={`live ${live ? "on" : "off"}`} data-testid="live">
          {live ? "Live" : "Connecting…"}
        </span>
        <button type="button" className="link" onClick={onSignOut}>
          Forget token
        </button>
      </header>
      {viewer && <ViewerLine viewer={viewer} />}
      {notice && (
        <p
          className={`notice ${notice.tone}`}
          role={notice.tone === "error" ? "alert" : "status"}
          data-testid="notice"
          data-reason={notice.reason ?? ""}
        >
          {notice.reason && <strong>{notice.reason}: </strong>}
          {notice.text}
        </p>
      )}
      <CredentialList
        credentials={credentials}
        onConnect={connect}
        onDelete={(credential) => void remove(credential)}
      />
      <CreateForm
        client={client}
        viewer={viewer}
        onCreated={(credential) => {
          upsert(credential);
          setNotice({ tone: "info", text: `${credential.name} was added.` });
        }}
      />
      {events.length > 0 && (
        <section>
          <h2>Recent events</h2>
          <ul className="events" data-testid="events">
            {events.map((line, index) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: a log, newest first
              <li key={index}>{line}</li>
            ))}
          </ul>
        </section>
      )}
    </main>
  );
}

function ViewerLine({ viewer }: { viewer: ScreenViewerQuery["viewer"] }) {
  const session = viewer.connectSession;
  if (!session) {
    return (
      <p className="viewer" data-testid="viewer">
        Signed in as <code>{viewer.subject ?? "unknown"}</code> with {viewer.scopes.join(", ")}
      </p>
    );
  }
  return (
    <p className="viewer" data-testid="viewer">
      Accounts of <code>{session.externalUserId}</code> in {session.environment.slug}
      {session.providerKeys.length > 0 && <> for {session.providerKeys.join(", ")}</>}; this session
      ends at {new Date(session.expiresAt).toLocaleTimeString()}.
    </p>
  );
}

const needsSignIn = (credential: Credential) =>
  credential.kind === "OAUTH2" && credential.status !== "ACTIVE";

function CredentialList(props: {
  credentials: Credential[] | null;
  onConnect: (credential: Credential) => void;
  onDelete: (credential: Credential) => void;
}) {
  if (!props.credentials) return <p>Loading…</p>;
  if (props.credentials.length === 0) return <p data-testid="empty">No accounts yet.</p>;
  return (
    <table className="credentials">
      <thead>
        <tr>
          <th>Name</th>
          <th>Kind</th>
          <th>Status</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {props.credentials.map((credential) => (
          <tr key={credential.id} data-testid="credential" data-name={credential.name}>
            <td>
              {credential.name}
              {credential.providerKey && <small> {credential.providerKey}</small>}
            </td>
            <td>{credential.kind}</td>
            <td>
              <span className={`status ${credential.status.toLowerCase()}`} data-testid="status">
                {credential.status}
              </span>
              {credential.statusReason && (
                <small className="reason" data-testid="reason">
                  {" "}
                  {credential.statusReason.code}: {credential.statusReason.message}
                </small>
              )}
            </td>
            <td className="actions">
              {needsSignIn(credential) && (
                <button type="button" onClick={() => props.onConnect(credential)}>
                  {credential.status === "PENDING_AUTHORIZATION" ? "Connect" : "Reconnect"}
                </button>
              )}
              <button
                type="button"
                className="secondary"
                onClick={() => props.onDelete(credential)}
              >
                Remove
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** One choice in the account type picker: a catalog provider with one of its auth kinds. */
type ProviderChoice = { providerKey: string; name: string; kind: CredentialKind };

/** A choice's id in the picker: provider and kind, or the kind alone for a custom form. */
const choiceId = (choice: { providerKey?: string; kind: CredentialKind }) =>
  choice.providerKey ? `${choice.providerKey}/${choice.kind}` : choice.kind;

/**
 * The providers the viewer may connect: the connect session's providers, or the whole catalog
 * when it lists none. Custom (kind) forms only when no provider is required.
 */
function useChoices(client: KeyportClient, viewer: ScreenViewerQuery["viewer"] | null) {
  const [providers, setProviders] = useState<ProviderChoice[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const allowed = viewer?.connectSession?.providerKeys ?? [];
  const allowedKey = allowed.join(",");
  useEffect(() => {
    if (!viewer) return;
    let cancelled = false;
    const keys = allowedKey ? allowedKey.split(",") : [];
    client.request(ProvidersQuery, {}).then(
      (data) => {
        if (cancelled) return;
        const listed = data.providers.filter((p) => keys.length === 0 || keys.includes(p.key));
        setProviders(
          listed.flatMap((p) =>
            p.authKinds.map((kind) => ({ providerKey: p.key, name: p.name, kind })),
          ),
        );
      },
      (reason) => {
        if (cancelled) return;
        // Without the catalog the custom forms still work.
        setProviders([]);
        setError(messageOf(reason));
      },
    );
    return () => {
      cancelled = true;
    };
  }, [client, viewer, allowedKey]);
  return { providers, custom: allowed.length === 0, error };
}

function CreateForm(props: {
  client: KeyportClient;
  viewer: ScreenViewerQuery["viewer"] | null;
  onCreated: (credential: Credential) => void;
}) {
  const { providers, custom, error: catalogError } = useChoices(props.client, props.viewer);
  const customForms = custom ? Object.values(kindForms) : [];
  const firstId = providers?.[0]
    ? choiceId(providers[0])
    : customForms[0]
      ? choiceId(customForms[0])
      : "";
  const [picked, setPicked] = useState<string | null>(null);
  const selected = picked ?? firstId;
  const providerChoice = providers?.find((p) => choiceId(p) === selected) ?? null;
  const [name, setName] = useState("");
  const [values, setValues] = useState<FormValues>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);

  // A provider's form is read from the catalog when it is picked.
  const [loaded, setLoaded] = useState<{ id: string; form: FormSpec } | null>(null);
  useEffect(() => {
    if (!providerChoice) return;
    const id = choiceId(providerChoice);
    let cancelled = false;
    props.client
      .request(ProviderFormQuery, {
        key: providerChoice.providerKey,
        authKind: providerChoice.kind,
      })
      .then(
        ({ provider }) => {
          if (cancelled || !provider) return;
          setLoaded({ id, form: providerForm(provider, providerChoice.kind, provider.fields) });
        },
        (reason) => {
          if (!cancelled) setErrors({ form: messageOf(reason) });
        },
      );
    return () => {
      cancelled = true;
    };
  }, [props.client, providerChoice]);
  const form: FormSpec | null = providerChoice
    ? loaded?.id === selected
      ? loaded.form
      : null
    : (customForms.find((f) => choiceId(f) === selected) ?? null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setErrors({});
    if (!form) return;
    let input: ReturnType<typeof buildCreateInput>;
    try {
      if (!name.trim()) throw new FormValueError("name", "Name is required.");
      input = buildCreateInput(form, name.trim(), values);
    } catch (error) {
      if (error instanceof FormValueError) setErrors({ [error.key]: error.message });
      return;
    }
    setBusy(true);
    try {
      const { createCredential: result } = await props.client.request(CreateCredentialMutation, {
        input,
      });
      if (result.__typename === "CreateCredentialSuccess") {
        props.onCreated(result.credential);
        setName("");
        setValues({});
      } else if (result.__typename === "ValidationError") {
        // Paths start at the argument: ["input", "oauth2", "clientId"]. Errors about fields the
        // form does not show (e.g. environmentId) go above the button.
        const shown = new Set(["name", ...form.fields.map(fieldKey)]);
        const next: Record<string, string> = {};
        const other: string[] = [];
        for (const error of result.fieldErrors) {
          const key = error.path.slice(1).join(".");
          if (shown.has(key)) next[key] = error.message;
          else other.push(`${key || "input"}: ${error.message}`);
        }
        if (other.length > 0 || result.fieldErrors.length === 0) {
          next.form = [result.message, ...other].join(" ");
        }
        setErrors(next);
      } else {
        setErrors({ form: result.message });
      }
    } catch (error) {
      setErrors({
        form: error instanceof GraphQLRequestError ? error.message : messageOf(error),
      });
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <h2>Add an account</h2>
      <form className="create" onSubmit={submit} data-testid="create-form">
        <label>
          Account type
          <select
            name="kind"
            value={selected}
            onChange={(event) => {
              setPicked(event.target.value);
              setValues({});
              setErrors({});
            }}
          >
            {providers && providers.length > 0 && (
              <optgroup label="Providers">
                {providers.map((p) => (
                  <option key={choiceId(p)} value={choiceId(p)}>
                    {p.name} ({kindForms[p.kind].title})
                  </option>
                ))}
              </optgroup>
            )}
            {customForms.length > 0 && (
              <optgroup label="Custom">
                {customForms.map((f) => (
                  <option key={choiceId(f)} value={choiceId(f)}>
                    Custom: {f.title}
                  </option>
                ))}
              </optgroup>
            )}
          </select>
        </label>
        {catalogError && <small className="error">The provider list is unavailable.</small>}
        <label>
          Name
          <input name="name" value={name} onChange={(event) => setName(event.target.value)} />
          {errors.name && <span className="error">{errors.name}</span>}
        </label>
        {!form && <p>Loading the form…</p>}
        {form?.fields.map((spec) => (
          <Field
            key={fieldKey(spec)}
            spec={spec}
            value={values[fieldKey(spec)] ?? ""}
            error={errors[fieldKey(spec)]}
            onChange={(value) => setValues((v) => ({ ...v, [fieldKey(spec)]: value }))}
          />
        ))}
        {errors.form && (
          <p className="error" role="alert">
            {errors.form}
          </p>
        )}
        <button type="submit" disabled={busy || !form}>
          Add
        </button>
      </form>
    </section>
  );
}

function Field(props: {
  spec: FieldSpec;
  value: string;
  error: string | undefined;
  onChange: (value: string) => void;
}) {
  const { spec } = props;
  const name = fieldKey(spec);
  const id = `field-${name}`;
  const control =
    spec.type === "select" ? (
      <select
        id={id}
        name={name}
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
      >
        <option value="">(default)</option>
        {spec.options?.map((option) => (
          <option key={option}>{option}</option>
        ))}
      </select>
    ) : spec.type === "json" ? (
      <textarea
        id={id}
        name={name}
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
      />
    ) : (
      <input
        id={id}
        name={name}
        type={spec.type === "secret" ? "password" : spec.type === "number" ? "number" : "text"}
        autoComplete="off"
        required={spec.required}
        placeholder={spec.example}
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
      />
    );
  return (
    <div className="field">
      <label htmlFor={id}>
        {spec.label}
        {spec.required && " *"}
      </label>
      {control}
      {spec.help && <small>{spec.help}</small>}
      {props.error && <span className="error">{props.error}</span>}
    </div>
  );
}
