// Browser sign-in: the operator pastes a bearer token once; the server answers with an HttpOnly
// session cookie and a CSRF token (kept in memory only, never in storage or the page).
import { request, setCsrfToken } from './api';

export type Role = 'operator' | 'dispatcher' | 'auditor' | 'admin';

export interface Session {
  name: string;
  role: Role;
  csrfToken: string;
  expiresTime: string;
}

function adopt(s: Session): Session {
  setCsrfToken(s.csrfToken);
  return s;
}

// The current session from the cookie, or null when there is none (401).
export async function currentSession(): Promise<Session | null> {
  try {
    return adopt(await request<Session>('GET', '/api/v1/session'));
  } catch {
    return null;
  }
}

export async function signIn(token: string): Promise<Session> {
  return adopt(await request<Session>('POST', '/api/v1/session', { token }));
}

export async function signOut(): Promise<void> {
  try {
    await request<void>('DELETE', '/api/v1/session');
  } finally {
    setCsrfToken('');
  }
}

// What each role may do (the server checks again; this only hides what would be refused).
export function canAcknowledge(role: Role): boolean {
  return role !== 'auditor';
}
export function canAudit(role: Role): boolean {
  return role === 'auditor' || role === 'dispatcher' || role === 'admin';
}
