// A local OpenID Connect provider configured like ProConnect, for the end-to-end tests
// (tests/browser/test_proconnect_flow.py): authorization code with PKCE, nonce, userinfo answered
// as a signed JWT (application/jwt), claims email, given_name, usual_name, siret, uid, the acr
// and amr of the login, RP-initiated logout.
//
// Usage: node provider.mjs '<json options>'
//   options: clientId, clientSecret, redirectUri, postLogoutRedirectUri
// Listens on a free port of 127.0.0.1 and prints « ready <issuer> » once it answers.
//
// One process serves a whole test module: each test sets how the provider behaves for the
// next logins with POST /__test__/behaviour (JSON, every field optional, the others reset to
// their default):
//   email, emailVerified (true), givenName, usualName — the agent's claims;
//   acr ("eidas1"), amr (["pwd"]) — what the login asserts (the ID token's acr and amr);
//   idTokenNonce: "request" (the nonce of the authorization request) | "wrong" (another one,
//     in an ID token still signed with the provider's key);
//   userinfo: "signed" (JWT signed with the provider's key) | "json" (plain JSON) |
//     "unsigned" (JWT with alg none) | "other-key" (JWT signed with a key that is not in the
//     provider's JWKS, under the same kid).
import { createServer } from "node:http";
import { generateKeyPairSync, randomBytes, sign } from "node:crypto";
import Provider from "oidc-provider";

const options = JSON.parse(process.argv[2]);
const KID = "cle-test";
const DEFAULTS = {
  email: "camille.agent@travail.gouv.fr",
  emailVerified: true,
  givenName: "Camille",
  usualName: "Agent",
  acr: "eidas1",
  amr: ["pwd"],
  idTokenNonce: "request",
  userinfo: "signed",
};
let behaviour = { ...DEFAULTS };

const newKey = () => generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
const providerKey = newKey();
const otherKey = newKey();

const base64url = (value) => Buffer.from(value).toString("base64url");
const payloadOf = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url"));

function encodeJwt(payload, key) {
  const header = key ? { alg: "RS256", typ: "JWT", kid: KID } : { alg: "none", typ: "JWT" };
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  return key ? `${input}.${base64url(sign("sha256", Buffer.from(input), key))}` : `${input}.`;
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString() || "{}");
}

const server = createServer();
server.listen(0, "127.0.0.1", () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: options.clientId,
        client_secret: options.clientSecret,
        redirect_uris: [options.redirectUri],
        post_logout_redirect_uris: [options.postLogoutRedirectUri],
        token_endpoint_auth_method: "client_secret_post",
        id_token_signed_response_alg: "RS256",
        userinfo_signed_response_alg: "RS256",
      },
    ],
    jwks: {
      keys: [{ ...providerKey.export({ format: "jwk" }), kid: KID, use: "sig", alg: "RS256" }],
    },
    features: {
      claimsParameter: { enabled: true }, // how ProConnect's clients ask for amr
      devInteractions: { enabled: true },
      jwtUserinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    pkce: { required: () => true },
    acrValues: ["eidas1", "eidas2", "eidas3"],
    scopes: ["openid", "email", "given_name", "usual_name", "siret", "uid"],
    claims: {
      acr: null,
      amr: null,
      openid: ["sub"],
      email: ["email", "email_verified"],
      given_name: ["given_name"],
      usual_name: ["usual_name"],
      siret: ["siret"],
      uid: ["uid"],
    },
    conformIdTokenClaims: false,
    async findAccount(ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          return {
            sub,
            email: behaviour.email,
            email_verified: behaviour.emailVerified,
            given_name: behaviour.givenName,
            usual_name: behaviour.usualName,
            siret: "13002526500013",
            uid: sub,
          };
        },
      };
    },
  });

  // The development login form says who logs in; the acr and amr of that login are the
  // behaviour's (what ProConnect's identity provider would assert).
  const finished = provider.interactionFinished.bind(provider);
  provider.interactionFinished = (req, res, result, more) =>
    finished(
      req,
      res,
      result.login
        ? { ...result, login: { ...result.login, acr: behaviour.acr, amr: behaviour.amr } }
        : result,
      more,
    );

  provider.use(async (ctx, next) => {
    if (ctx.path === "/__test__/behaviour" && ctx.method === "POST") {
      behaviour = { ...DEFAULTS, ...(await readJson(ctx.req)) };
      ctx.body = behaviour;
      return;
    }
    await next();
    if (ctx.path === "/token" && ctx.body?.id_token && behaviour.idTokenNonce === "wrong") {
      const claims = { ...payloadOf(ctx.body.id_token), nonce: randomBytes(16).toString("hex") };
      ctx.body = { ...ctx.body, id_token: encodeJwt(claims, providerKey) };
    }
    if (ctx.path === "/me" && ctx.status === 200 && behaviour.userinfo !== "signed") {
      const claims = payloadOf(String(ctx.body));
      if (behaviour.userinfo === "json") {
        ctx.body = claims;
      } else {
        ctx.body = encodeJwt(claims, behaviour.userinfo === "other-key" ? otherKey : null);
        ctx.type = "application/jwt; charset=utf-8";
      }
    }
  });

  server.on("request", provider.callback());
  console.log(`ready ${issuer}`);
});
