/* geoint field app: the queue of records and photos kept in IndexedDB until the server has
   them (it survives closing the browser). A record is {client_id, seizure_id, record, body,
   status, errors, created}; a photo is {id, client_id, blob, name, status, error}. */

const NAME = "geoint-field";
let opened = null;

function database() {
  if (opened === null) {
    opened = new Promise((resolve, reject) => {
      const request = indexedDB.open(NAME, 1);
      request.onupgradeneeded = () => {
        const db = request.result;
        db.createObjectStore("records", {keyPath: "client_id"});
        db.createObjectStore("photos", {keyPath: "id"}).createIndex("client_id", "client_id");
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  return opened;
}

async function run(store, mode, act) {
  const db = await database();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(store, mode);
    const request = act(tx.objectStore(store));
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

/** Every item of `store` ("records" or "photos"). */
export function all(store) { return run(store, "readonly", (s) => s.getAll()); }

/** The item of `store` under `key` (undefined when there is none). */
export function get(store, key) { return run(store, "readonly", (s) => s.get(key)); }

/** Store `item` in `store`, replacing the one with its key. */
export function put(store, item) { return run(store, "readwrite", (s) => s.put(item)); }

/** Delete the item of `store` under `key`. */
export function remove(store, key) { return run(store, "readwrite", (s) => s.delete(key)); }

/** The photos queued with the record `clientId`. */
export function photosOf(clientId) {
  return run("photos", "readonly", (s) => s.index("client_id").getAll(clientId));
}
