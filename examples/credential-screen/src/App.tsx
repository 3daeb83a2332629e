// A credential screen for one end user, driven by a connect token: the user's credentials with
// their live status, a form per kind to add one, and OAuth sign-in in a popup.
import { type FormEvent, useCallback, useEffect, useMemo, useState } from "react";
import { createKeyportClient, GraphQLRequestError, type KeyportClient } from "./client.js";
import {
  AuthorizeCredentialMutation,
  CreateCredentialMutation,
  CredentialEventsSubscription,
  CredentialQuery,
  CredentialsQuery,
  DeleteCredentialMutation,
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
} from "./forms.js";
import type { ScreenCredentialFragment, ScreenViewerQuery } from "./gql/graphql.js";
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

/** A form's id in the picker: its kind, or provider and kind for a provider's form. */
const formId = (form: FormSpec) =>
  form.providerKey ? `${form.providerKey}/${form.kind}` : form.kind;

function CreateForm(props: {
  client: KeyportClient;
  onCreated: (credential: Credential) => void;
  /** Replaces the kind forms, e.g. with forms built from a provider catalog. */
  forms?: FormSpec[];
}) {
  const forms = props.forms ?? Object.values(kindForms);
  const [selected, setSelected] = useState(formId(forms[0] ?? kindForms.OAUTH2));
  const form = forms.find((f) => formId(f) === selected) ?? forms[0] ?? kindForms.OAUTH2;
  const [name, setName] = useState("");
  const [values, setValues] = useState<FormValues>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setErrors({});
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
              setSelected(event.target.value);
              setValues({});
              setErrors({});
            }}
          >
            {forms.map((f) => (
              <option key={formId(f)} value={formId(f)}>
                {f.title}
              </option>
            ))}
          </select>
        </label>
        <label>
          Name
          <input name="name" value={name} onChange={(event) => setName(event.target.value)} />
          {errors.name && <span className="error">{errors.name}</span>}
        </label>
        {form.fields.map((spec) => (
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
        <button type="submit" disabled={busy}>
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
