#!/usr/bin/env ruby
# Renders a BOSH release's job templates for every instance of a deployment
# manifest, the way the BOSH director does, without a director: the
# manifest's ((variables)) come from a JSON file, go-patch "replace"
# operations may change the manifest first, and each instance gets the
# template context BOSH documents (p, if_p, spec.*, link, if_link).
#
#   ruby render.rb RELEASE_DIR MANIFEST [--vars VARS.json] [--ops OPS.json]
#   ruby render.rb --variables MANIFEST        # the manifest's variables as JSON
#
# It prints a JSON list of rendered jobs: instance group, index, job,
# address, and files (path under /var/vcap/jobs/<job>/ => content), with
# "monit" holding the rendered monit file.
require "erb"
require "json"
require "yaml"
require "ostruct"

class RenderError < StandardError; end

# Raised by p() for a property that is neither set nor defaulted, as BOSH's
# Bosh::Template::UnknownProperty.
class UnknownProperty < RenderError
  def initialize(names)
    super("Can't find property '#{names.join("', or '")}'")
  end
end

def dig_path(hash, dotted)
  dotted.split(".").reduce(hash) do |h, k|
    return nil unless h.is_a?(Hash) && h.key?(k)
    h[k]
  end
end

def set_path(hash, dotted, value)
  keys = dotted.split(".")
  last = keys.pop
  h = keys.reduce(hash) { |acc, k| acc[k] ||= {} }
  h[last] = value
end

# The properties a job sees: each property its spec declares, the
# manifest's value or else the spec's default; undeclared ones are dropped,
# as BOSH does.
def job_properties(spec, given)
  out = {}
  (spec["properties"] || {}).each do |name, decl|
    value = dig_path(given, name)
    value = (decl || {})["default"] if value.nil?
    set_path(out, name, value) unless value.nil?
  end
  out
end

# The block of if_p when every property is set; its else_if_p and else.
class ActiveElseBlock
  def initialize(ctx) = @ctx = ctx
  def else; end
  def else_if_p(*_names); ActiveElseBlock.new(@ctx); end
end

class InactiveElseBlock
  def initialize(ctx) = @ctx = ctx
  def else; yield; end
  def else_if_p(*names, &block) = @ctx.if_p(*names, &block)
end

module PropertyLookup
  def p(*args)
    names = Array(args[0])
    names.each do |name|
      value = dig_path(@properties, name)
      return value unless value.nil?
    end
    return args[1] if args.length == 2
    raise UnknownProperty.new(names)
  end

  def if_p(*names)
    values = names.map { |n| dig_path(@properties, n) }
    return InactiveElseBlock.new(self) if values.any?(&:nil?)
    yield(*values)
    ActiveElseBlock.new(self)
  end
end

# One instance of a link's provider, as EvaluationLinkInstance.
LinkInstance = Struct.new(:name, :index, :id, :az, :address, :bootstrap, keyword_init: true)

# A resolved link: its instances and the provider's shared properties.
class EvaluationLink
  include PropertyLookup
  attr_reader :instances

  def initialize(instances, properties)
    @instances = instances
    @properties = properties
  end
end

# The context of one template: the instance's spec and its job's
# properties and links.
class Context
  include PropertyLookup
  attr_reader :spec

  def initialize(spec, properties, links)
    @spec = spec
    @properties = properties
    @links = links
  end

  def link(name)
    @links.fetch(name) { raise RenderError, "Can't find link '#{name}'" }
  end

  def if_link(name)
    return InactiveElseBlock.new(self) unless @links.key?(name)
    yield @links[name]
    ActiveElseBlock.new(self)
  end

  def get_binding = binding
end

def to_ostruct(value)
  case value
  when Hash then OpenStruct.new(value.transform_values { |v| to_ostruct(v) })
  when Array then value.map { |v| to_ostruct(v) }
  else value
  end
end

# ((name)) and ((name.key)) interpolation, as the director does with its
# config server: a whole-value reference keeps the variable's type.
def interpolate(node, vars)
  case node
  when Hash then node.to_h { |k, v| [k, interpolate(v, vars)] }
  when Array then node.map { |v| interpolate(v, vars) }
  when String
    lookup = lambda do |ref|
      name, *path = ref.split(".")
      raise RenderError, "variable ((#{ref})) has no value" unless vars.key?(name)
      v = vars[name]
      path.each do |k|
        raise RenderError, "variable ((#{ref})) has no key #{k}" unless v.is_a?(Hash) && v.key?(k)
        v = v[k]
      end
      v
    end
    if (m = node.match(/\A\(\(([\w.\-\/]+)\)\)\z/))
      lookup.call(m[1])
    else
      node.gsub(/\(\(([\w.\-\/]+)\)\)/) { lookup.call(Regexp.last_match(1)).to_s }
    end
  else node
  end
end

# go-patch "replace" and "remove" operations: /key, /name=value, /index,
# and a trailing ? on a key creates what is missing.
def apply_op(doc, op)
  tokens = op.fetch("path").split("/")[1..] || []
  raise RenderError, "ops path #{op["path"]} is empty" if tokens.empty?
  parent = doc
  tokens[0..-2].each do |t|
    parent = step(parent, t, create: true)
  end
  last = tokens[-1]
  key = last.chomp("?")
  case op.fetch("type")
  when "replace"
    if parent.is_a?(Array) && key =~ /\A\d+\z/ then parent[key.to_i] = op["value"]
    elsif parent.is_a?(Array) && key == "-" then parent << op["value"]
    else parent[key] = op["value"]
    end
  when "remove"
    if parent.is_a?(Array) && (m = key.match(/\A(\w+)=(.*)\z/))
      i = parent.index { |e| e.is_a?(Hash) && e[m[1]] == m[2] }
      raise RenderError, "ops: no element with #{key}" if i.nil? && !last.end_with?("?")
      parent.delete_at(i) unless i.nil?
    elsif parent.is_a?(Array) then parent.delete_at(key.to_i)
    else parent.delete(key)
    end
  else raise RenderError, "ops type #{op["type"]} is not supported"
  end
end

def step(node, token, create:)
  optional = token.end_with?("?")
  token = token.chomp("?")
  if node.is_a?(Array)
    if (m = token.match(/\A(\w+)=(.*)\z/))
      found = node.find { |e| e.is_a?(Hash) && e[m[1]] == m[2] }
      if found.nil? && optional
        found = { m[1] => m[2] }
        node << found
      end
      raise RenderError, "ops: no element with #{token}" if found.nil?
      return found
    end
    return node.fetch(token.to_i)
  end
  node[token] = {} if !node.key?(token) && (optional || create)
  raise RenderError, "ops: no key #{token}" unless node.key?(token)
  node[token]
end

def load_job(release, name)
  dir = File.join(release, "jobs", name)
  raise RenderError, "release has no job #{name}" unless File.directory?(dir)
  [dir, YAML.safe_load(File.read(File.join(dir, "spec")))]
end

def static_ip(group, index)
  net = (group["networks"] || []).first || {}
  ips = net["static_ips"] || []
  raise RenderError, "instance group #{group["name"]} has #{ips.length} static_ips for #{group["instances"]} instances" if ips.length < group["instances"].to_i
  ips[index]
end

def instances_of(group)
  (0...group["instances"].to_i).map do |i|
    azs = group["azs"] || ["z1"]
    LinkInstance.new(name: group["name"], index: i, id: "#{group["name"]}-#{i}", az: azs[i % azs.length],
                     address: static_ip(group, i), bootstrap: i.zero?)
  end
end

# Links are resolved as the director does: an explicit consumes.<name>.from
# names the provider's link name; otherwise the one provider of the same
# type in the deployment, preferring the consumer's own instance group.
def resolve_links(release, manifest, group, job, spec)
  links = {}
  (spec["consumes"] || []).each do |c|
    wanted = ((job["consumes"] || {})[c["name"]] || {})
    next if wanted == "nil"
    from = wanted["from"]
    candidates = []
    manifest["instance_groups"].each do |g|
      g["jobs"].each do |j|
        _, pspec = load_job(release, j["name"])
        (pspec["provides"] || []).each do |prov|
          as = ((j["provides"] || {})[prov["name"]] || {})["as"] || prov["name"]
          match = from ? as == from : prov["type"] == c["type"]
          candidates << [g, j, pspec, prov] if match
        end
      end
    end
    own = candidates.select { |g, *_| g["name"] == group["name"] }
    candidates = own if candidates.length > 1 && own.length == 1
    if candidates.empty?
      next if c["optional"]
      raise RenderError, "job #{job["name"]} in #{group["name"]}: no provider of link #{c["name"]} (type #{c["type"]})"
    end
    raise RenderError, "job #{job["name"]}: #{candidates.length} providers of link #{c["name"]}: name one with from" if candidates.length > 1
    g, j, pspec, prov = candidates.first
    props = job_properties(pspec, j["properties"] || {})
    shared = {}
    (prov["properties"] || []).each do |name|
      v = dig_path(props, name)
      set_path(shared, name, v) unless v.nil?
    end
    links[c["name"]] = EvaluationLink.new(instances_of(g), shared)
  end
  links
end

def render_file(path, ctx)
  ERB.new(File.read(path), trim_mode: "-").result(ctx.get_binding)
rescue RenderError, NameError, NoMethodError, KeyError => e
  raise RenderError, "#{path}: #{e.message}"
end

def render(release, manifest)
  out = []
  manifest.fetch("instance_groups").each do |group|
    instances_of(group).each do |inst|
      group["jobs"].each do |job|
        dir, spec = load_job(release, job["name"])
        props = job_properties(spec, job["properties"] || {})
        links = resolve_links(release, manifest, group, job, spec)
        spec_hash = {
          "name" => group["name"], "index" => inst.index, "id" => inst.id, "az" => inst.az,
          "bootstrap" => inst.bootstrap, "address" => inst.address, "ip" => inst.address,
          "deployment" => manifest["name"], "job" => { "name" => job["name"] },
          "networks" => { (group["networks"] || [{}]).first["name"] => { "ip" => inst.address } },
          "properties" => props,
        }
        ctx = Context.new(to_ostruct(spec_hash), props, links)
        files = {}
        (spec["templates"] || {}).each do |src, dest|
          files[dest] = render_file(File.join(dir, "templates", src), ctx)
        end
        files["monit"] = render_file(File.join(dir, "monit"), ctx)
        out << { "instance_group" => group["name"], "index" => inst.index, "job" => job["name"],
                 "address" => inst.address, "files" => files }
      end
    end
  end
  out
end

begin
  if ARGV[0] == "--release"
    # The release's jobs and packages as JSON, for the structure checks.
    dir = ARGV[1]
    jobs = Dir.children(File.join(dir, "jobs")).sort.to_h do |name|
      jdir = File.join(dir, "jobs", name)
      spec = File.exist?(File.join(jdir, "spec")) ? YAML.safe_load(File.read(File.join(jdir, "spec"))) : nil
      tdir = File.join(jdir, "templates")
      sources = File.directory?(tdir) ? Dir.children(tdir).sort.to_h { |f| [f, File.read(File.join(tdir, f))] } : {}
      monit = File.exist?(File.join(jdir, "monit")) ? File.read(File.join(jdir, "monit")) : nil
      [name, { "spec" => spec, "templates" => sources, "monit" => monit }]
    end
    packages = Dir.children(File.join(dir, "packages")).sort.to_h do |name|
      pdir = File.join(dir, "packages", name)
      spec = File.exist?(File.join(pdir, "spec")) ? YAML.safe_load(File.read(File.join(pdir, "spec"))) : nil
      [name, { "spec" => spec, "packaging" => File.exist?(File.join(pdir, "packaging")) }]
    end
    final = YAML.safe_load(File.read(File.join(dir, "config", "final.yml")))
    blobs = YAML.safe_load(File.read(File.join(dir, "config", "blobs.yml")))
    puts JSON.generate({ "jobs" => jobs, "packages" => packages, "final" => final, "blobs" => blobs })
    exit 0
  end
  if ARGV[0] == "--variables"
    puts JSON.generate(YAML.safe_load(File.read(ARGV[1]), aliases: true)["variables"] || [])
    exit 0
  end
  release, manifest_path, *rest = ARGV
  raise RenderError, "usage: render.rb RELEASE_DIR MANIFEST [--vars FILE] [--ops FILE]" if manifest_path.nil?
  opts = rest.each_slice(2).to_h
  manifest = YAML.safe_load(File.read(manifest_path), aliases: true)
  JSON.parse(File.read(opts["--ops"])).each { |op| apply_op(manifest, op) } if opts["--ops"]
  vars = opts["--vars"] ? JSON.parse(File.read(opts["--vars"])) : {}
  manifest = interpolate(manifest, vars)
  puts JSON.generate(render(release, manifest))
rescue RenderError, KeyError, Psych::Exception, JSON::ParserError, Errno::ENOENT => e
  warn "render: #{e.message}"
  exit 1
end
