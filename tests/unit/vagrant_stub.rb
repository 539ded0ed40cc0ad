# Evaluates a Vagrantfile with a recording stand-in for Vagrant; prints the machines it defines.
class Recorder
  attr_reader :calls
  def initialize(path = [], calls = []) @path = path; @calls = calls end
  def method_missing(name, *args, **kw, &block)
    @calls << [(@path + [name]).join("."), args, kw]
    child = Recorder.new(@path + [name], @calls)
    block.call(child) if block
    child
  end
  def respond_to_missing?(*) true end
end
module Vagrant
  def self.configure(version)
    raise "version #{version}" unless version == "2"
    $rec = Recorder.new
    yield $rec
  end
end
load ARGV[0]
$rec.calls.each { |c| puts c.inspect if c[0] =~ /define|private_network|provision|hostname|synced/ }
