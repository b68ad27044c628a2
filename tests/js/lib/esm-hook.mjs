// esm-hook.mjs: a module.register() loader hook that makes Node load the files of the
// bimserverapi package as ES modules.
//
// Why: bimserverapi 0.0.167 ships its sources as ES modules (bimserverclient.js does
// `import ... from './bimserverapipromise.js'`), but its package.json has no
// "type": "module" and its "main" (build/bimserverapi.js) is not in the package. Node
// before 20.19 (Debian 12's nodejs is 18.19) then parses the .js files as CommonJS and
// fails on `import`; Node 20.19+ detects module syntax and reparses, with a warning on some
// versions. Declaring the format here is explicit, version-independent (module.register
// exists since 18.19 / 20.6) and leaves the package's files untouched.
const PKG = '/node_modules/bimserverapi/';

export async function load(url, context, nextLoad)
{
  if (url.startsWith('file:') && url.includes(PKG) && url.endsWith('.js')) {
    return nextLoad(url, { ...context, format: 'module' });
  }
  return nextLoad(url, context);
}
