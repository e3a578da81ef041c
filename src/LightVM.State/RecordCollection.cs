using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace LightVM.State;

/// <summary>
/// A table of JSON documents keyed by id. Every write is one committed transaction; <see cref="Update"/> reads,
/// changes and writes a record atomically, which is how stores change a record's status.
/// </summary>
/// <typeparam name="T">The record type; treated as immutable (callers build new values in <see cref="Update"/>).</typeparam>
public sealed class RecordCollection<T>
    where T : class
{
    private readonly StateStore _store;
    private readonly string _table;
    private readonly JsonSerializerOptions _json;

    internal RecordCollection(StateStore store, string table, JsonSerializerOptions json)
    {
        _store = store;
        _table = table;
        _json = json;
    }

    /// <summary>The collection's name (its table).</summary>
    public string Name => _table;

    /// <summary>Returns the record with <paramref name="id"/>, or null.</summary>
    public T? Get(string id) => _store.Execute(c => Read(c, null, id));

    /// <summary>Returns every record, ordered by id.</summary>
    public IReadOnlyList<T> List() => _store.Execute(c =>
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT data FROM \"{_table}\" ORDER BY id;";
        using var reader = cmd.ExecuteReader();
        var list = new List<T>();
        while (reader.Read())
        {
            list.Add(Deserialize(reader.GetString(0)));
        }

        return list;
    });

    /// <summary>Stores a new record.</summary>
    /// <exception cref="StateException">Kind AlreadyExists when <paramref name="id"/> is taken.</exception>
    public void Insert(string id, T value) => _store.Execute(c =>
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"INSERT INTO \"{_table}\" (id, data) VALUES ($id, $data) ON CONFLICT(id) DO NOTHING;";
        cmd.Parameters.AddWithValue("$id", id);
        cmd.Parameters.AddWithValue("$data", JsonSerializer.Serialize(value, _json));
        if (cmd.ExecuteNonQuery() == 0)
        {
            throw new StateException($"{_table} record '{id}' already exists", null, StateErrorKind.AlreadyExists);
        }

        return 0;
    });

    /// <summary>Stores <paramref name="value"/> under <paramref name="id"/>, replacing any record there.</summary>
    public void Put(string id, T value) => _store.Execute(c =>
    {
        Write(c, null, id, value);
        return 0;
    });

    /// <summary>
    /// Reads the record, applies <paramref name="change"/> and stores its result, all in one transaction.
    /// </summary>
    /// <returns>The stored new value.</returns>
    /// <exception cref="StateException">Kind NotFound when there is no such record.</exception>
    public T Update(string id, Func<T, T> change) => _store.InTransaction((c, tx) =>
    {
        var current = Read(c, tx, id)
            ?? throw new StateException($"{_table} record '{id}' not found", null, StateErrorKind.NotFound);
        var next = change(current);
        Write(c, tx, id, next);
        return next;
    });

    /// <summary>Removes the record; returns false when there was none (removal is idempotent).</summary>
    public bool Delete(string id) => _store.Execute(c =>
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"DELETE FROM \"{_table}\" WHERE id = $id;";
        cmd.Parameters.AddWithValue("$id", id);
        return cmd.ExecuteNonQuery() > 0;
    });

    private T? Read(SqliteConnection c, SqliteTransaction? tx, string id)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = $"SELECT data FROM \"{_table}\" WHERE id = $id;";
        cmd.Parameters.AddWithValue("$id", id);
        return cmd.ExecuteScalar() is string data ? Deserialize(data) : null;
    }

    private void Write(SqliteConnection c, SqliteTransaction? tx, string id, T value)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = $"INSERT INTO \"{_table}\" (id, data) VALUES ($id, $data) " +
                          "ON CONFLICT(id) DO UPDATE SET data = excluded.data;";
        cmd.Parameters.AddWithValue("$id", id);
        cmd.Parameters.AddWithValue("$data", JsonSerializer.Serialize(value, _json));
        cmd.ExecuteNonQuery();
    }

    private T Deserialize(string data) =>
        JsonSerializer.Deserialize<T>(data, _json)
        ?? throw new StateException($"{_table}: a stored record is null");
}
