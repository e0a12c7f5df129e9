// A local OpenID Connect provider configured like ProConnect, for the end-to-end tests:
// authorization code with PKCE, nonce, userinfo answered as a signed JWT (application/jwt),
// claims email, given_name, usual_name, siret, uid, acr, RP-initiated logout.
// Usage: node provider.mjs <port> '<json options>'
//   options: clientId, clientSecret, redirectUri, postLogoutRedirectUri,
//            jwtUserinfo (default true), emailVerified (default true), email
import { generateKeyPairSync } from "node:crypto";
import Provider from "oidc-provider";

const port = Number(process.argv[2]);
const options = JSON.parse(process.argv[3]);
const issuer = `http://127.0.0.1:${port}`;
const key = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: options.clientId,
      client_secret: options.clientSecret,
      redirect_uris: [options.redirectUri],
      post_logout_redirect_uris: [options.postLogoutRedirectUri],
      token_endpoint_auth_method: "client_secret_post",
      id_token_signed_response_alg: "RS256",
      ...(options.jwtUserinfo === false ? {} : { userinfo_signed_response_alg: "RS256" }),
    },
  ],
  jwks: { keys: [{ ...key, kid: "cle-test", use: "sig", alg: "RS256" }] },
  features: {
    devInteractions: { enabled: true },
    jwtUserinfo: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  pkce: { required: () => true },
  acrValues: ["eidas1", "eidas2"],
  scopes: ["openid", "email", "given_name", "usual_name", "siret", "uid"],
  claims: {
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
          email: options.email,
          email_verified: options.emailVerified !== false,
          given_name: "Camille",
          usual_name: "Agent",
          siret: "13002526500013",
          uid: sub,
        };
      },
    };
  },
});
provider.listen(port, "127.0.0.1", () => {
  console.log(`ready ${issuer}`);
});
