/** The worker token (reference §9.1, §9.2; RFC 6749 §4.4 and §5.2). */
import { jwtPart, requestToken, type Credentials } from '../token.js';
import { documentedOrder, type Area } from '../runner.js';

export function tokenArea(credentials: Credentials): Area {
  return {
    name: 'token',
    async run(run) {
      const reply = await requestToken(credentials);
      run.check('client_credentials (client_secret_basic) → 200', 200, reply.status);
      run.holds('the response is JSON', 'application/json', reply.contentType, reply.contentType.startsWith('application/json'));
      const order = documentedOrder(['access_token', 'token_type', 'expires_in'], reply.json);
      run.check('members in the documented order', 'access_token,token_type,expires_in', order.got);
      run.check('token_type', 'Bearer', reply.json?.token_type);
      run.check('expires_in (one hour)', 3600, reply.json?.expires_in);
      const header = jwtPart(reply.json?.access_token, 0);
      const claims = jwtPart(reply.json?.access_token, 1);
      run.check('access_token is a JWS signed RS256', 'RS256', header?.alg);
      run.holds('the JWS header names its key (kid)', 'a string', header?.kid, typeof header?.kid === 'string');
      run.check('claim env', credentials.environmentId, claims?.env);
      run.check('claim client_id', credentials.clientId, claims?.client_id);
      run.check('claim iss', `${credentials.authPath}/${credentials.environmentId}/as`, claims?.iss);
      run.holds('claims exp − iat', 'expires_in', claims ? claims.exp - claims.iat : undefined, claims?.exp - claims?.iat === reply.json?.expires_in);
      run.check('no sub for a client_credentials token', undefined, claims?.sub);

      const wrong = await requestToken(credentials, `${credentials.clientSecret}x`);
      run.check('a wrong client secret → 401 invalid_client', '401 invalid_client', `${wrong.status} ${wrong.json?.error}`);
    },
  };
}
