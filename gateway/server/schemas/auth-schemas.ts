/**
 * Sign-in, the signed-in user, users and API tokens. No answer holds a
 * password or a hash: the schemas are closed, so a field added to a record
 * never leaves the server by accident.
 */
import { z } from 'zod';
import { ROLES } from '../../../config/schema.js';
import {
  type CreatedToken,
  type DemoAccount,
  LANGUAGES,
  type LoginInfo,
  type Me,
  type TokensResponse,
  type TokenView,
  type UsersResponse,
  type UserView,
} from '../contract.js';
import { doc, epochMs, type Expect, named, nullableEpochMs, type SameShape } from './common.js';

const role = () => z.enum(ROLES);
const capability = () => z.enum(['read', 'alarms.act', 'alarms.manage', 'export', 'users.manage']);

const DemoAccountSchema = named(
  'DemoAccount',
  'A documented demo account (only while `server.demoAccounts` is on).',
  z.strictObject({ username: z.string(), password: z.string(), role: role() }),
);

export const LoginInfoSchema = named(
  'LoginInfo',
  'What the sign-in page needs before anyone is signed in.',
  z.strictObject({
    demoAccounts: doc(z.array(DemoAccountSchema), { description: 'empty unless the gateway runs with demo accounts' }),
  }),
);

export const MeSchema = named(
  'Me',
  'The signed-in user and what this sign-in may do.',
  z.strictObject({
    username: z.string(),
    displayName: z.string().nullable(),
    role: doc(role(), {
      description: "the role this request acts with (a token's own role, never above its owner's)",
    }),
    capabilities: z.array(capability()),
    via: doc(z.enum(['session', 'token']), {
      description: '`session`: signed in with a password (cookie); `token`: an API token',
    }),
    expiresAt: nullableEpochMs('when this sign-in ends at the latest; null: never (a token without expiry)'),
    language: doc(z.enum(LANGUAGES).nullable(), {
      description: 'the dashboard language the user chose; null: follow the browser',
    }),
  }),
);

export const UserViewSchema = named(
  'UserView',
  'A user as the API shows it: never a password or its hash.',
  z.strictObject({
    username: z.string(),
    displayName: z.string().nullable(),
    role: role(),
    disabled: z.boolean(),
    origin: doc(z.string(), { description: 'who created it: `first-run`, `config`, `demo` or `admin`' }),
    createdAt: epochMs(),
    passwordChangedAt: epochMs(),
    lastLoginAt: z.number().nullable(),
  }),
);

export const UsersResponseSchema = named(
  'UsersResponse',
  'Every user.',
  z.strictObject({ users: z.array(UserViewSchema) }),
);

const tokenFields = {
  id: z.number(),
  name: z.string(),
  username: doc(z.string(), { description: 'the owner' }),
  role: role(),
  hint: doc(z.string(), { description: "the token's first characters, to tell tokens apart" }),
  createdAt: epochMs(),
  createdBy: z.string(),
  expiresAt: z.number().nullable(),
  lastUsedAt: z.number().nullable(),
};

export const TokenViewSchema = named(
  'TokenView',
  'An API token as listed: never the token itself.',
  z.strictObject(tokenFields),
);

export const TokensResponseSchema = named(
  'TokensResponse',
  "One's own tokens; an admin sees everyone's.",
  z.strictObject({ tokens: z.array(TokenViewSchema) }),
);

export const CreatedTokenSchema = named(
  'CreatedToken',
  'A new token: the only answer that holds it. Send it as `Authorization: Bearer <token>`.',
  z.strictObject({ ...tokenFields, token: z.string() }),
);

export type AuthContractChecks = [
  Expect<SameShape<DemoAccount, z.output<typeof DemoAccountSchema>>>,
  Expect<SameShape<LoginInfo, z.output<typeof LoginInfoSchema>>>,
  Expect<SameShape<Me, z.output<typeof MeSchema>>>,
  Expect<SameShape<UserView, z.output<typeof UserViewSchema>>>,
  Expect<SameShape<UsersResponse, z.output<typeof UsersResponseSchema>>>,
  Expect<SameShape<TokenView, z.output<typeof TokenViewSchema>>>,
  Expect<SameShape<TokensResponse, z.output<typeof TokensResponseSchema>>>,
  Expect<SameShape<CreatedToken, z.output<typeof CreatedTokenSchema>>>,
];
