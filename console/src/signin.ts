// The sign-in form: paste the bearer token once. The token goes only into the POST body; the
// field is cleared right after, so it is never kept in the page.
import { ApiError } from './api';
import { el } from './format';
import { Session, signIn } from './session';

export function signInForm(serverName: string, notice: string, done: (s: Session) => void): HTMLElement {
  const root = el('main', 'signin');
  const form = el('form', 'signin-form');
  form.autocomplete = 'off';
  form.append(el('h1', '', 'citwatch console'));
  if (serverName) form.append(el('p', 'server-name', serverName));
  if (notice) form.append(el('p', 'notice', notice));
  const label = el('label', '', 'Operator token');
  const input = el('input', 'token');
  input.type = 'password';
  input.name = 'token';
  input.required = true;
  input.autocomplete = 'off';
  input.spellcheck = false;
  label.append(input);
  const button = el('button', 'signin-button', 'Sign in');
  button.type = 'submit';
  const error = el('p', 'error');
  error.setAttribute('role', 'alert');
  form.append(label, button, error, el('p', 'hint', 'Paste the token your administrator gave you (dispatchctl token new). The browser keeps only a session cookie.'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const token = input.value.trim();
    input.value = '';
    button.disabled = true;
    error.textContent = '';
    signIn(token)
      .then(done)
      .catch((err: unknown) => {
        button.disabled = false;
        if (err instanceof ApiError && err.status === 429) error.textContent = 'Too many failed sign-ins: wait a minute and try again.';
        else if (err instanceof ApiError && err.status === 401) error.textContent = 'That token was not accepted.';
        else error.textContent = `Sign-in failed: ${(err as Error).message}`;
        input.focus();
      });
  });
  root.append(form);
  requestAnimationFrame(() => input.focus());
  return root;
}
