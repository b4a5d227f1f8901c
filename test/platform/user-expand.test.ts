/**
 * `GET …/users/{id}?expand=population` (PingOne's Read User by ID): the user with its
 * population embedded as `_embedded.population`, the population as its own GET shows it;
 * any other `expand` is 400 on the parameter.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createUser, useTenant, type TestServer } from '../helper.js';
import { expectError } from '../support/errors.js';

let server: TestServer;
let env: string;
let userId: string;
useTenant('user expand', (t) => ({ server, env, userId } = t));

test('expand=population embeds the user\'s population right after _links; the rest is the plain GET', async () => {
  const path = `/v1/environments/${env}/users/${userId}`;
  const plain = await server.request('GET', path);
  const expanded = await server.request('GET', `${path}?expand=population`);
  assert.equal(expanded.status, 200, expanded.text);
  const population = await server.request('GET', `/v1/environments/${env}/populations/${plain.body.population.id as string}`);
  assert.equal(population.status, 200, population.text);
  const { _links, ...rest } = plain.body;
  assert.deepEqual(expanded.body, { _links, _embedded: { population: population.body }, ...rest });
  assert.deepEqual(Object.keys(expanded.body).slice(0, 3), ['_links', '_embedded', 'id']);
  assert.equal(expanded.body._embedded.population.userCount, 1);
  assert.equal(JSON.stringify(expanded.body._embedded.population), population.text);
});

test('a user of a population of its own embeds that one; expand=groups or expand= is 400 INVALID_PARAMETER on expand', async () => {
  const made = await server.request('POST', `/v1/environments/${env}/populations`, { body: { name: 'expanded' } });
  const other = await createUser(server, env, 'in-expanded', { population: { id: made.body.id } });
  const res = await server.request('GET', `/v1/environments/${env}/users/${other}?expand=population`);
  assert.equal(res.body._embedded.population.id, made.body.id);
  assert.equal(res.body._embedded.population.name, 'expanded');
  for (const q of ['groups', '', 'population,groups']) {
    expectError(await server.request('GET', `/v1/environments/${env}/users/${other}?expand=${q}`), 400, 'INVALID_DATA', { code: 'INVALID_PARAMETER', target: 'expand' });
  }
});

test('GET …/users?expand=population (Read All Users) embeds each user\'s own population; the page is otherwise the plain list', async () => {
  const made = await server.request('POST', `/v1/environments/${env}/populations`, { body: { name: 'listed' } });
  const listed = await createUser(server, env, 'in-listed', { population: { id: made.body.id } });
  const path = `/v1/environments/${env}/users`;
  const plain = await server.request('GET', path);
  const expanded = await server.request('GET', `${path}?expand=population`);
  assert.equal(expanded.status, 200, expanded.text);
  assert.equal(expanded.body.count, plain.body.count);
  assert.equal(expanded.body.size, plain.body.size);
  for (const [i, user] of (plain.body._embedded.users as any[]).entries()) {
    const population = await server.request('GET', `/v1/environments/${env}/populations/${user.population.id as string}`);
    const { _links, ...rest } = user;
    assert.deepEqual(expanded.body._embedded.users[i], { _links, _embedded: { population: population.body }, ...rest });
  }
  assert.equal((expanded.body._embedded.users as any[]).find((u) => u.id === listed)._embedded.population.name, 'listed');
  expectError(await server.request('GET', `${path}?expand=groups`), 400, 'INVALID_DATA', { code: 'INVALID_PARAMETER', target: 'expand' });
});
