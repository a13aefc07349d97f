// The callpost operator console: sign in with an API key, then the screens.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, apiKey, setApiKey } from './api';
import { CallPage, Calls } from './calls';
import { Account, ApiKeys, Buyers, CampaignPage, Campaigns, Numbers, Publishers } from './config';
import { usePath } from './router';
import { Field, Link, TagKeyList } from './ui';
import './style.css';

function SignIn(props: { onSignedIn: (name: string) => void }) {
  const [key, setKey] = useState('');
  const [err, setErr] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setApiKey(key.trim());
    try {
      const account = await api('GET', '/api/v1/account');
      props.onSignedIn(account.name);
    } catch (x) {
      setApiKey(null);
      setErr(Object.assign(x as object, { field: 'api_key' }));
    }
  };
  return (
    <main class="signin">
      <h1>callpost console</h1>
      <form onSubmit={submit} class="card">
        <Field label="API key" name="api_key" err={err} hint="From `callpost accounts create` or the API keys screen. Kept in this tab only (sessionStorage).">
          <input type="password" autocomplete="off" data-testid="api-key" value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        </Field>
        <button data-testid="sign-in">Sign in</button>
      </form>
    </main>
  );
}

const NAV: [string, string][] = [
  ['/calls', 'Calls'],
  ['/campaigns', 'Campaigns'],
  ['/buyers', 'Buyers'],
  ['/publishers', 'Publishers'],
  ['/numbers', 'Numbers'],
  ['/account', 'Account'],
  ['/api-keys', 'API keys'],
];

function Screen(props: { path: string }) {
  const p = props.path;
  let m: RegExpMatchArray | null;
  if ((m = p.match(/^\/campaigns\/(\d+)$/))) return <CampaignPage id={m[1]} />;
  if ((m = p.match(/^\/calls\/([0-9a-fA-F-]+)$/))) return <CallPage uuid={m[1]} />;
  switch (p) {
    case '/campaigns':
      return <Campaigns />;
    case '/buyers':
      return <Buyers />;
    case '/publishers':
      return <Publishers />;
    case '/numbers':
      return <Numbers />;
    case '/account':
      return <Account />;
    case '/api-keys':
      return <ApiKeys />;
    case '/':
    case '/calls':
      return <Calls />;
  }
  return <p>There is no page {p} in the console.</p>;
}

function App() {
  const path = usePath();
  const [account, setAccount] = useState<string | null>(null);
  const [signedIn, setSignedIn] = useState(apiKey() !== null);
  useEffect(() => {
    const out = () => {
      setApiKey(null);
      setSignedIn(false);
    };
    window.addEventListener('callpost:unauthenticated', out);
    return () => window.removeEventListener('callpost:unauthenticated', out);
  }, []);
  useEffect(() => {
    if (signedIn && account === null) api('GET', '/api/v1/account').then((a) => setAccount(a.name), () => {});
  }, [signedIn]);
  if (!signedIn) return <SignIn onSignedIn={(name) => (setAccount(name), setSignedIn(true))} />;
  const section = '/' + (path.split('/')[1] || 'calls');
  return (
    <>
      <header>
        <span class="brand">callpost</span>
        <nav>
          {NAV.map(([href, label]) => (
            <Link href={href} class={section === href ? 'active' : ''}>
              {label}
            </Link>
          ))}
        </nav>
        <span class="account">{account}</span>
        <button
          type="button"
          class="small secondary"
          onClick={() => {
            setApiKey(null);
            setSignedIn(false);
            setAccount(null);
          }}
        >
          Sign out
        </button>
      </header>
      <main>
        <Screen path={path} />
      </main>
      <TagKeyList />
    </>
  );
}

render(<App />, document.getElementById('app')!);
